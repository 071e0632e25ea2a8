package stratum_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/stratum"
)

// Every refusal of the server, with the code and words a miner gets, and
// whether it is dropped after. Shares need real hashing at a low
// difficulty, so the server's blocks are out of reach (hardBits).
func TestServerRefusals(t *testing.T) {
	shared := startServer(t, stratum.ServerConfig{}, true)
	user := alice.String() + ".w"
	const pass = "d=0.00002"
	// submitWith starts a miner and submits a share of its job changed by edit.
	submitWith := func(edit func(*stratum.Submit)) func(*testing.T, *testServer, *client) (message, *client) {
		return func(t *testing.T, _ *testServer, c *client) (message, *client) {
			s := c.share(c.start(user, pass), user, true)
			edit(&s)
			return c.submit(s), c
		}
	}
	limited := func(cfg stratum.ServerConfig) func(*testing.T, *testServer, *client) (message, *client) {
		return func(t *testing.T, _ *testServer, _ *client) (message, *client) {
			ts := startServer(t, cfg, true)
			first := dial(t, ts.addr)
			first.call("mining.subscribe") // admitted
			c := dial(t, ts.addr)
			return c.next(), c
		}
	}
	for _, c := range []struct {
		name   string
		run    func(*testing.T, *testServer, *client) (message, *client)
		code   int
		text   string
		closes bool
	}{
		{"not json", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			c.send("hello")
			return c.next(), c
		}, -32700, "parse error", false},
		{"no method", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			c.send(`{"id":7,"params":[]}`)
			m := c.next()
			if string(m.ID) != "7" {
				t.Errorf("id %s, want the request's 7", m.ID)
			}
			return m, c
		}, -32600, "no method", false},
		{"line over 16 KiB", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			c.send(`{"id":1,"method":"` + strings.Repeat("a", 17<<10) + `"}`)
			return c.next(), c
		}, -32600, "line over 16384 bytes", true},
		{"repeated garbage", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			for range 4 {
				c.send("garbage")
				c.next()
			}
			c.send("garbage")
			return c.next(), c
		}, -32700, "parse error", true},
		{"unknown method", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			return c.call("mining.get_transactions"), c
		}, -32601, "method not found", false},
		{"ping", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			m := c.call("mining.ping")
			if sub := c.call("mining.subscribe"); sub.Result == nil {
				t.Errorf("subscribe after ping: %s", sub.Error)
			}
			return m, c
		}, -32601, "method not found", false},
		{"submit before subscribe", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			return c.call("mining.submit", user, "1", "00000000", "00000000", "00000000"), c
		}, 25, "not subscribed", false},
		{"submit before authorize", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			c.call("mining.subscribe")
			return c.call("mining.submit", user, "1", "00000000", "00000000", "00000000"), c
		}, 24, "unauthorized worker", false},
		{"submit for another worker", submitWith(func(s *stratum.Submit) { s.Worker = bob.String() }), 24, "unauthorized worker", false},
		{"authorize not an address", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			c.call("mining.subscribe")
			return c.call("mining.authorize", "satoshi.rig", "x"), c
		}, 24, "ADDRESS[.WORKER]", false},
		{"authorize a second address", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			c.start(user, pass)
			return c.call("mining.authorize", bob.String(), "x"), c
		}, 24, "this connection pays", false},
		{"bad difficulty in password", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			return c.call("mining.authorize", user, "d=lots"), c
		}, 20, "difficulty", false},
		{"unknown job", submitWith(func(s *stratum.Submit) { s.JobID = "zz" }), 21, "job not found", false},
		{"stale job", func(t *testing.T, ts *testServer, c *client) (message, *client) {
			job := c.start(user, pass)
			s := c.share(job, user, true)
			n := len(c.jobs)
			ts.newTip(t)
			c.job(n)
			return c.submit(s), c
		}, 21, "stale", false},
		{"ntime before the job", submitWith(func(s *stratum.Submit) { s.Time-- }), 20, "ntime", false},
		{"ntime past the future limit", submitWith(func(s *stratum.Submit) {
			s.Time = uint32(time.Now().Add(3 * time.Hour).Unix())
		}), 20, "ntime", false},
		{"extranonce2 size", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			j := c.start(user, pass)
			return c.call("mining.submit", user, j.ID, "000000", fmt.Sprintf("%08x", j.Time), "00000000"), c
		}, 20, "extranonce2", false},
		{"duplicate", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			s := c.share(c.start(user, pass), user, true)
			if m := c.submit(s); string(m.Result) != "true" {
				t.Fatalf("first submit refused: %s", m.Error)
			}
			return c.submit(s), c
		}, 22, "duplicate", false},
		{"low difficulty", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			return c.submit(c.share(c.start(user, pass), user, false)), c
		}, 23, "low difficulty", false},
		{"version bits outside the mask", func(t *testing.T, _ *testServer, c *client) (message, *client) {
			c.call("mining.configure", []string{"version-rolling"}, map[string]any{"version-rolling.mask": "ffffffff"})
			s := c.share(c.start(user, pass), user, true)
			s.HasVersionBits, s.VersionBits = true, 0x20000000
			return c.submit(s), c
		}, 20, "outside the mask", false},
		{"version bits without configure", submitWith(func(s *stratum.Submit) { s.HasVersionBits, s.VersionBits = true, 0x2000 }), 20, "outside the mask", false},
		{"too many connections", limited(stratum.ServerConfig{MaxConns: 1}), 20, "too many connections", true},
		{"too many from one host", limited(stratum.ServerConfig{MaxPerHost: 1}), 20, "from 127.0.0.1", true},
		{"auth timeout", func(t *testing.T, _ *testServer, _ *client) (message, *client) {
			ts := startServer(t, stratum.ServerConfig{AuthTimeout: 100 * time.Millisecond}, true)
			c := dial(t, ts.addr)
			c.call("mining.subscribe")
			return c.next(), c
		}, 24, "not subscribed and authorised within 100ms", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, cl := c.run(t, shared, dial(t, shared.addr))
			code, text := refusal(t, m)
			if code != c.code || !strings.Contains(text, c.text) {
				t.Errorf("refused with [%d, %q], want [%d, ...%q...]", code, text, c.code, c.text)
			}
			if c.closes && m.Result != nil && string(m.Result) != "null" {
				t.Errorf("result %s beside the error", m.Result)
			}
			if c.closes {
				if !cl.closed() {
					t.Error("connection still open after the refusal")
				}
			} else if m := cl.call("mining.extranonce.subscribe"); string(m.Result) != "true" {
				t.Errorf("connection unusable after the refusal: %s", m.Error)
			}
		})
	}
}

// A web page the node's user opens can send an HTTP request to a loopback
// Stratum port, with miner's lines in its body: the connection closes at
// the request line, and nothing of the body is read or answered.
func TestServerRefusesHTTP(t *testing.T) {
	ts := startServer(t, stratum.ServerConfig{}, true)
	for _, method := range []string{"GET", "POST", "OPTIONS"} {
		c := dial(t, ts.addr)
		body := `{"id":1,"method":"mining.subscribe","params":[]}` + "\n"
		c.send(method + " / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: " +
			fmt.Sprint(len(body)) + "\r\n\r\n" + body)
		if m, err := c.read(5 * time.Second); err == nil {
			t.Errorf("%s request answered: %+v", method, m)
		} else if isTimeout(err) {
			t.Errorf("%s request: connection still open", method)
		}
	}
}
