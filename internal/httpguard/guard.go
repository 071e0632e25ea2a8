// Package httpguard keeps web pages away from the project's HTTP servers. A
// node or devnet manager on loopback is out of other machines' reach, but
// not out of the reach of every page its user's browser opens: such a page
// can send a cross-site POST to 127.0.0.1, or rebind its own name to
// 127.0.0.1 and read the answers as same-origin.
package httpguard

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
)

// Deny answers a refused request; each server writes errors in its own
// JSON shape.
type Deny func(w http.ResponseWriter, status int, msg string)

// Guard refuses cross-origin writes (http.CrossOriginProtection, which reads
// Sec-Fetch-Site and Origin: tools such as curl send neither and pass) and
// every request whose Host hosts does not allow, which is what a
// DNS-rebinding page sends.
func Guard(h http.Handler, hosts *Hosts, deny Deny) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deny(w, http.StatusForbidden, "cross-origin request refused: this server takes writes from its own page and from tools, not from other sites")
	}))
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hosts.Allow(r.Host) {
			deny(w, http.StatusForbidden, fmt.Sprintf("host %q refused: this server answers to %s", r.Host, hosts))
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// IsJSON reports whether a Content-Type header says JSON. A page can send
// another site a form or text/plain without asking first; for JSON the
// browser must ask the site (CORS preflight), which these servers never
// grant.
func IsJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// Hosts are the names a server answers to in the Host header. A
// DNS-rebinding page can only send a name its attacker controls, so the
// server's own address, localhost and the names its operator gives pass,
// and every other name is refused. The port is not compared: the page's
// name is what gives it away.
type Hosts struct {
	names []string // lower case, IPv6 without brackets
	// Bound to every interface, the server is reached by any of the
	// machine's addresses; bound to loopback, by any loopback address.
	anyIP, anyLoopback bool
	all                bool // "*": the operator checks Host elsewhere, as a proxy does
}

// NewHosts returns the Host names of a server listening on listenAddr
// (host:port or a host): that host, "localhost", and names, of which "*"
// lets every name pass.
func NewHosts(listenAddr string, names ...string) *Hosts {
	bound := hostOf(listenAddr)
	h := &Hosts{names: []string{"localhost"}}
	ip := net.ParseIP(bound)
	switch {
	case bound == "" || ip != nil && ip.IsUnspecified():
		h.anyIP = true
	case Loopback(bound):
		h.anyLoopback = true
	default:
		h.names = append(h.names, bound)
	}
	for _, n := range names {
		n = hostOf(n)
		h.all = h.all || n == "*"
		if !slices.Contains(h.names, n) {
			h.names = append(h.names, n)
		}
	}
	return h
}

// Allow reports whether a Host header (host or host:port) names this server.
func (h *Hosts) Allow(hostport string) bool {
	host := hostOf(hostport)
	if h.all || slices.Contains(h.names, host) {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (h.anyIP || h.anyLoopback && ip.IsLoopback())
}

// String lists what passes, for the refusal's message.
func (h *Hosts) String() string {
	var s []string
	switch {
	case h.anyIP:
		s = append(s, "its IP addresses")
	case h.anyLoopback:
		s = append(s, "127.0.0.1", "[::1]")
	}
	return strings.Join(append(s, h.names...), ", ")
}

// hostOf returns the host of a Host header or listen address, lower case,
// without port or brackets.
func hostOf(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport // no port
	}
	return strings.ToLower(strings.Trim(host, "[]"))
}

// Loopback reports whether hostport (a Host header or a listen address,
// with or without a port) names this machine's loopback.
func Loopback(hostport string) bool {
	host := hostOf(hostport)
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
