package stratum_test

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// scriptedPool is a real TCP listener on 127.0.0.1 whose connections the
// test speaks for, line by line, as a pool would.
type scriptedPool struct {
	t     *testing.T
	ln    net.Listener
	addr  string
	conns chan *poolSide

	mu   sync.Mutex
	open []net.Conn
}

// newScriptedPool listens on addr ("127.0.0.1:0" for any port).
func newScriptedPool(t *testing.T, addr string) *scriptedPool {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &scriptedPool{t: t, ln: ln, addr: ln.Addr().String(), conns: make(chan *poolSide, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.open = append(p.open, c)
			p.mu.Unlock()
			p.conns <- &poolSide{t: t, conn: c, r: bufio.NewReader(c)}
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *scriptedPool) url() string { return "stratum+tcp://" + p.addr }

// close stops listening and drops every connection: the pool goes down.
func (p *scriptedPool) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}

// accept waits for the client's next connection.
func (p *scriptedPool) accept() *poolSide {
	p.t.Helper()
	select {
	case c := <-p.conns:
		return c
	case <-time.After(10 * time.Second):
		p.t.Fatalf("no connection to the pool at %s", p.addr)
		return nil
	}
}

// poolSide is the pool's end of one connection.
type poolSide struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// clientLine is a line of the client as the pool reads it.
type clientLine struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
	raw    string
}

// recv reads the client's next line.
func (s *poolSide) recv() clientLine {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Fatalf("pool reading the client: %v", err)
	}
	var m clientLine
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		s.t.Fatalf("client sent %q: %v", line, err)
	}
	m.raw = line
	return m
}

// expect reads the client's next line, which must be a request of method.
func (s *poolSide) expect(method string) clientLine {
	s.t.Helper()
	m := s.recv()
	if m.Method != method {
		s.t.Fatalf("client sent %s, want %s", strings.TrimSpace(m.raw), method)
	}
	return m
}

// send writes v as one line.
func (s *poolSide) send(v any) {
	s.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		s.t.Fatal(err)
	}
	s.sendRaw(string(b) + "\n")
}

func (s *poolSide) sendRaw(line string) {
	s.t.Helper()
	s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.conn.Write([]byte(line)); err != nil {
		s.t.Fatalf("pool writing to the client: %v", err)
	}
}

func (s *poolSide) answer(id json.RawMessage, result any, err any) {
	s.t.Helper()
	s.send(map[string]any{"id": id, "result": result, "error": err})
}

func (s *poolSide) notification(method string, params ...any) {
	s.t.Helper()
	if params == nil {
		params = []any{}
	}
	s.send(map[string]any{"id": nil, "method": method, "params": params})
}

// handshake answers the client's opening as a pool does: mining.configure
// with mask granted ("" answers an error, as a pool without version rolling
// does), the vector's subscribe result, the worker authorized, extranonce
// subscription refused; then difficulty diff and the vector's job, with its
// id jobID.
func (s *poolSide) handshake(v *vector, mask string, diff any, jobID string) {
	s.t.Helper()
	m := s.expect("mining.configure")
	if mask == "" {
		s.answer(m.ID, nil, []any{20, "Unknown method", nil})
	} else {
		s.answer(m.ID, map[string]any{"version-rolling": true, "version-rolling.mask": mask}, nil)
	}
	m = s.expect("mining.subscribe")
	s.answer(m.ID, v.SubscribeResult, nil)
	m = s.expect("mining.authorize")
	s.answer(m.ID, true, nil)
	m = s.expect("mining.extranonce.subscribe")
	s.answer(m.ID, nil, []any{20, "Unknown method", nil})
	s.notification("mining.set_difficulty", diff)
	s.notify(v, jobID, true)
}

// notify sends the vector's job as job id.
func (s *poolSide) notify(v *vector, id string, clean bool) {
	s.t.Helper()
	p := append([]json.RawMessage(nil), v.NotifyParams...)
	p[0], _ = json.Marshal(id)
	p[8], _ = json.Marshal(clean)
	s.send(map[string]any{"id": nil, "method": "mining.notify", "params": p})
}

// answerProbe answers a client asking whether the pool is back: a lone
// subscribe.
func (s *poolSide) answerProbe(v *vector) {
	s.t.Helper()
	m := s.expect("mining.subscribe")
	s.answer(m.ID, v.SubscribeResult, nil)
}
