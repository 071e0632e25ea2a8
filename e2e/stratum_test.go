package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"
)

// stratumConn is a miner's side of a Stratum connection, spoken line by
// line as minerd does, for tests that need a miner without a real one.
type stratumConn struct {
	conn  net.Conn
	lines *bufio.Scanner
	id    int
}

func dialStratum(t *testing.T, addr string) *stratumConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &stratumConn{conn: conn, lines: bufio.NewScanner(conn)}
}

// call sends a request and returns its reply, skipping notifications.
func (c *stratumConn) call(t *testing.T, method string, params ...any) json.RawMessage {
	t.Helper()
	c.id++
	b, _ := json.Marshal(map[string]any{"id": c.id, "method": method, "params": params})
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		t.Fatalf("stratum %s: %v", method, err)
	}
	for c.lines.Scan() {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(c.lines.Bytes(), &m); err != nil {
			t.Fatalf("stratum %s: reply %q: %v", method, c.lines.Text(), err)
		}
		if string(m.ID) == fmt.Sprint(c.id) {
			if len(m.Error) > 0 && string(m.Error) != "null" {
				t.Fatalf("stratum %s refused: %s", method, m.Error)
			}
			return m.Result
		}
	}
	t.Fatalf("stratum %s: no reply: %v", method, c.lines.Err())
	return nil
}

// start subscribes and authorises as user.
func (c *stratumConn) start(t *testing.T, user string) {
	t.Helper()
	c.call(t, "mining.subscribe", "e2e/1.0")
	c.call(t, "mining.authorize", user, "x")
}
