//go:build unix

package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashforge/hashforge/apiclient"
)

// TestHTTPTimeouts runs a node with --http-timeout 1s and a small
// --http-max-conns: a connection that sends nothing, sends its request a
// byte a second or idles after an answer is closed once the timeout has
// passed; an event stream outlives it; and a crowd of kept-alive
// connections is served at most the cap at a time and closed in turn.
func TestHTTPTimeouts(t *testing.T) {
	const timeout, maxConns = time.Second, 50
	n := startNode(t, "node", nodeOpts{extra: []string{"--http-timeout", timeout.String(), "--http-max-conns", fmt.Sprint(maxConns)}})
	addr := "127.0.0.1:" + n.httpPort
	token := cookieOf(t, n)

	t.Run("event stream", func(t *testing.T) {
		resp, err := http.Get(n.url() + "/api/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		start := time.Now()
		lines := bufio.NewScanner(resp.Body)
		for lines.Scan() {
			// Hashrate ticks come every 2 s, from the idle CPU device.
			if lines.Text() == "event: hashrate" && time.Since(start) > 3*timeout {
				t.Logf("an event %s after the stream opened", time.Since(start).Round(time.Millisecond))
				return
			}
		}
		t.Errorf("the stream ended after %s: %v", time.Since(start).Round(time.Millisecond), lines.Err())
	})

	// dribble writes s a byte a second until it is written or the
	// connection fails.
	dribble := func(c net.Conn, s string) {
		for i := range len(s) {
			if _, err := c.Write([]byte{s[i]}); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	}
	request := func(c net.Conn) { fmt.Fprintf(c, "GET /api/status HTTP/1.1\r\nHost: %s\r\n\r\n", addr) }
	tests := []struct {
		name string
		send func(c net.Conn)
	}{
		{"silent", func(net.Conn) {}},
		{"slow header", func(c net.Conn) { dribble(c, "GET /api/status HTTP/1.1\r\nHost: "+addr+"\r\n\r\n") }},
		{"slow body", func(c net.Conn) {
			fmt.Fprintf(c, "POST /api/mining HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n", addr, token)
			dribble(c, `{"enabled": false}`)
		}},
		{"idle after an answer", request},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			go tt.send(c)
			c.SetReadDeadline(start.Add(timeout + 5*time.Second))
			// Until the node closes it: an end of file, or a reset when
			// the node closed with the client's bytes unread.
			_, err = io.Copy(io.Discard, c)
			took := time.Since(start)
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				t.Errorf("still open after %s: %v", took.Round(time.Millisecond), err)
			case took < timeout*9/10:
				t.Errorf("closed after %s, before the timeout", took.Round(time.Millisecond))
			default:
				t.Logf("closed after %s", took.Round(time.Millisecond))
			}
		})
	}

	t.Run("many kept-alive connections", func(t *testing.T) {
		// Four times the cap: each asks once and then idles, kept alive.
		const conns = 4 * maxConns
		var answered, closed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		var last atomic.Int64 // when the last one closed, in ns since start
		for range conns {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			request(c)
			c.SetReadDeadline(start.Add(conns/maxConns*timeout + 10*time.Second))
			wg.Go(func() {
				r := bufio.NewReader(c)
				if resp, err := http.ReadResponse(r, nil); err == nil {
					io.Copy(io.Discard, resp.Body)
					answered.Add(1)
				}
				if _, err := io.Copy(io.Discard, r); !errors.Is(err, os.ErrDeadlineExceeded) {
					closed.Add(1)
					last.Store(int64(time.Since(start)))
				}
			})
		}
		time.Sleep(timeout / 2)
		if a := answered.Load(); a > maxConns {
			t.Errorf("%d connections answered within %s, want at most the cap, %d", a, timeout/2, maxConns)
		}
		wg.Wait()
		if answered.Load() != conns || closed.Load() != conns {
			t.Errorf("%d of %d connections answered, %d closed by the node", answered.Load(), conns, closed.Load())
		}
		t.Logf("%d kept-alive connections, %d at a time: the last closed after %s", conns, maxConns, time.Duration(last.Load()).Round(time.Millisecond))
		if _, err := n.status(); err != nil {
			t.Errorf("the node after the crowd: %v", err)
		}
	})
}

// TestHTTPBrowserRefused: what a web page in the user's browser can send
// to a node on loopback, a cross-origin text/plain POST without the token
// to each write endpoint, or any request under its own name after
// rebinding it to 127.0.0.1, is refused and changes nothing; the same
// writes from a tool with the token and JSON are taken.
func TestHTTPBrowserRefused(t *testing.T) {
	other := startNode(t, "other", nodeOpts{})
	n := startNode(t, "node", nodeOpts{mine: true})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(n.url(), "http://"))
	writes := []struct{ path, body string }{
		{"/api/mining", `{"enabled":false}`},
		{"/api/peers", `{"addr":"` + other.addr() + `"}`},
		{"/api/tx", `{"hex":"00"}`},
		{"/api/words", `{"text":"pwned"}`},
	}
	page := map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}
	rebound := map[string]string{"Host": "evil.example:" + port, "Origin": "http://evil.example:" + port, "Content-Type": "text/plain"}
	for _, w := range writes {
		for name, header := range map[string]map[string]string{"a cross-origin page": page, "a rebound name": rebound} {
			if code, body := call(t, http.MethodPost, n.url()+w.path, w.body, header); code != http.StatusForbidden {
				t.Errorf("POST %s from %s: %d %s, want 403", w.path, name, code, body)
			}
		}
	}
	for _, path := range []string{"/", "/app.js", "/metrics", "/api/status", "/api/health", "/api/events", "/api/blocks", "/api/peers", "/api/mempool"} {
		if code, body := call(t, http.MethodGet, n.url()+path, "", map[string]string{"Host": "evil.example:" + port}); code != http.StatusForbidden {
			t.Errorf("GET %s from a rebound name: %d %.100s, want 403", path, code, body)
		}
	}
	time.Sleep(time.Second) // a peer or a transaction let in would show by now
	st := n.mustStatus(t)
	if !st.Mining || st.Peers != 0 || st.Mempool.Count != 0 {
		t.Fatalf("after the refused writes: mining %t, %d peers, %d pending transactions; want mining, none, none", st.Mining, st.Peers, st.Mempool.Count)
	}

	// A tool with the token: mining stops, so the page's request would have.
	tool := map[string]string{"Authorization": "Bearer " + cookieOf(t, n), "Content-Type": "application/json"}
	if code, body := call(t, http.MethodPost, n.url()+"/api/mining", `{"enabled":false}`, tool); code != http.StatusOK || n.mustStatus(t).Mining {
		t.Errorf("POST /api/mining from a tool: %d %s, want 200 and mining stopped", code, body)
	}
}

// call makes a request with headers, Host among them, and returns the
// status and the body.
func call(t *testing.T, method, url, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.Host = header["Host"]
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHTTPHealth: GET /api/health and the health metrics of a mining node
// say it is healthy, and those of a node whose datadir was taken away say
// why it is not.
func TestHTTPHealth(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, n *node)
		status  int
		metrics []string
	}{
		{"mining", func(*testing.T, *node) {}, http.StatusOK,
			[]string{"miner_healthy 1", `miner_health_problem{reason="store_unwritable"} 0`, `miner_health_problem{reason="mining_stopped"} 0`}},
		{"datadir taken away", func(t *testing.T, n *node) {
			if err := os.Rename(n.datadir, n.datadir+".away"); err != nil {
				t.Fatal(err)
			}
		}, http.StatusServiceUnavailable,
			[]string{"miner_healthy 0", `miner_health_problem{reason="store_unwritable"} 1`, `miner_health_problem{reason="mining_stopped"} 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := startNode(t, "node", nodeOpts{mine: true, datadir: filepath.Join(t.TempDir(), "data")})
			n.waitHeight(t, 30*time.Second, 1)
			tt.breakIt(t, n)
			code, body := call(t, http.MethodGet, n.url()+"/api/health", "", nil)
			var h apiclient.Health
			if err := json.Unmarshal([]byte(body), &h); err != nil || code != tt.status || h.Healthy != (code == http.StatusOK) {
				t.Errorf("GET /api/health: %d %s, want %d", code, body, tt.status)
			}
			t.Logf("GET /api/health: %d %s", code, strings.TrimSpace(body))
			metrics, err := httpGet(n.url() + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range tt.metrics {
				if !strings.Contains(string(metrics), "\n"+line+"\n") {
					t.Errorf("metrics lack %q", line)
				}
			}
		})
	}
}
