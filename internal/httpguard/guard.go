// Package httpguard keeps web pages away from the project's HTTP servers. A
// node or devnet manager on loopback is out of other machines' reach, but
// not out of the reach of every page its user's browser opens: such a page
// can send a cross-site POST to 127.0.0.1, or rebind its own name to
// 127.0.0.1 and read the answers as same-origin.
package httpguard

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Deny answers a refused request; each server writes errors in its own
// JSON shape.
type Deny func(w http.ResponseWriter, status int, msg string)

// Guard refuses cross-origin writes (http.CrossOriginProtection, which reads
// Sec-Fetch-Site and Origin: tools such as curl send neither and pass) and,
// when loopbackOnly is set for a server that listens on loopback alone,
// every request whose Host is not a loopback name, which is what a
// DNS-rebinding page sends. A server reachable beyond loopback has users
// who name it by its address or host name, so there Host is not checked.
func Guard(h http.Handler, loopbackOnly bool, deny Deny) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deny(w, http.StatusForbidden, "cross-origin request refused: this server takes writes from its own page and from tools, not from other sites")
	}))
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopbackOnly && !Loopback(r.Host) {
			deny(w, http.StatusForbidden, fmt.Sprintf("host %q refused: this server answers to 127.0.0.1, [::1] and localhost", r.Host))
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// Loopback reports whether hostport (a Host header or a listen address,
// with or without a port) names this machine's loopback.
func Loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport // no port
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
