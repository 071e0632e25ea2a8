package stratum

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// maxClientLine bounds a line from the pool. The largest honest message is
// a notify with a long coinbase and a full branch, a few KiB.
const maxClientLine = 16 << 10

// clientQueue is how many lines may wait to go out: shares come in bursts at
// a low difficulty, and a full queue drops a share rather than stall a lane.
const clientQueue = 256

// Version rolling the client asks for in mining.configure (BIP 310): the
// mask ASIC miners use, and at least 2 bits.
const (
	clientVersionMask    = 0x1fffe000
	clientVersionMinBits = 2
)

// clientMsg is one line of the pool: a request or notification (Method
// set) or the response to one of the client's requests.
type clientMsg struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
	Result json.RawMessage   `json:"result"`
	Error  json.RawMessage   `json:"error"`
}

// clientReply is a response as the caller of a request sees it.
type clientReply struct {
	result json.RawMessage
	err    error // the pool's error, as a *PoolError
}

// PoolError is an error a pool answered a request with.
type PoolError struct {
	Code    int
	Message string
}

func (e *PoolError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("pool error %d: %s", e.Code, e.Message)
	}
	return "pool error: " + e.Message
}

// decodeRPCError reads a response's error: nil for null or absent, else
// [code, "message", traceback] as most pools write it, {"code", "message"}
// as JSON-RPC 2.0 does, or a bare string.
func decodeRPCError(raw json.RawMessage) error {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return &PoolError{Message: string(raw)}
	}
	e := &PoolError{}
	switch v := v.(type) {
	case []any:
		if len(v) > 0 {
			if n, ok := v[0].(float64); ok {
				e.Code = int(n)
			}
		}
		if len(v) > 1 {
			e.Message, _ = v[1].(string)
		}
	case map[string]any:
		if n, ok := v["code"].(float64); ok {
			e.Code = int(n)
		}
		e.Message, _ = v["message"].(string)
	case string:
		e.Message = v
	case bool:
		if !v {
			return nil
		}
	}
	if e.Message == "" && e.Code == 0 {
		e.Message = string(raw)
	}
	return e
}

// pendingCall is a request of the client waiting for its response; done
// runs on the reading goroutine, in the order of the pool's lines.
type pendingCall struct {
	sent  time.Time
	done  func(clientReply, time.Duration)
	share bool // a mining.submit: counted lost if the connection ends first
}

// clientSession is one connection to a pool.
type clientSession struct {
	c    *Client
	url  string
	conn net.Conn
	out  chan []byte
	stop context.CancelCauseFunc

	mu       sync.Mutex
	nextID   uint64
	pending  map[uint64]pendingCall
	closed   bool // the connection ended: its shares are stale
	lastJob  time.Time
	en1      []byte
	en2Size  int
	diff     float64
	mask     uint32
	authed   bool
	job      *PoolWork // the latest job
	seq      uint64    // numbers the jobs
	cleanSeq uint64    // the latest clean job's seq: older jobs are stale
}

// session connects to the pool at addr (pools[index] or where it sent the
// client) and speaks with it until the connection ends. established tells
// whether the pool took the subscription and the worker.
func (c *Client) session(ctx context.Context, index int, addr string) (established bool, err error) {
	d := net.Dialer{Timeout: c.t.dial}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, err
	}
	sctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s := &clientSession{c: c, url: c.pools[index].url, conn: conn, out: make(chan []byte, clientQueue),
		stop: stop, pending: map[uint64]pendingCall{}, lastJob: time.Now(), diff: 1}
	var wg sync.WaitGroup
	wg.Go(func() {
		<-sctx.Done()
		conn.Close() // ends the reads and writes
	})
	wg.Go(s.read)
	wg.Go(func() { s.write(sctx) })
	defer func() {
		stop(nil)
		wg.Wait()
		s.end()
		if s.authorized() {
			// Without a pool the devices have nothing worth hashing: work
			// with no roll idles them until the next pool's first job.
			c.publish(&PoolWork{})
		}
	}()

	began := time.Now()
	if err := s.handshake(sctx); err != nil {
		stop(err)
		return false, context.Cause(sctx)
	}
	c.log.Info("pool connected", "pool", s.url, "addr", addr, "took", time.Since(began).Round(time.Millisecond))
	c.mu.Lock()
	c.sess = s
	c.stats.URL, c.stats.Connected, c.stats.ConnectedSince = s.url, true, time.Now()
	c.mu.Unlock()
	if index > 0 {
		wg.Go(func() { c.watchAhead(sctx, index, stop) })
	}
	<-sctx.Done()
	return true, context.Cause(sctx)
}

// end marks the session over: its jobs' shares are stale from now on and
// shares still waiting for an answer will get none.
func (s *clientSession) end() {
	s.mu.Lock()
	s.closed = true
	var lost uint64
	for _, p := range s.pending {
		if p.share {
			lost++
		}
	}
	s.pending = nil
	s.mu.Unlock()
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.c.sess == s {
		s.c.sess = nil
		s.c.stats.Connected, s.c.stats.ConnectedSince = false, time.Time{}
	}
	if lost > 0 {
		s.c.stats.SharesRejected += lost
		s.c.stats.RejectedBy[ReasonNoResponse] += lost
	}
}

// handshake asks for version rolling (mining.configure comes first, as BIP
// 310 says), subscribes and authorizes, sending all three at once and
// reading the answers in order.
func (s *clientSession) handshake(ctx context.Context) error {
	cfg := s.c.cfg
	configure := []any{
		[]string{"version-rolling"},
		map[string]any{
			"version-rolling.mask":          hexUint32(clientVersionMask),
			"version-rolling.min-bit-count": clientVersionMinBits,
		},
	}
	if err := s.call(ctx, "mining.configure", configure, func(r clientReply, _ time.Duration) {
		mask := decodeConfigure(r)
		s.mu.Lock()
		s.mask = mask
		s.mu.Unlock()
		s.c.update(func(st *ClientStats) { st.VersionMask = mask })
	}); err != nil {
		return err
	}
	subscribed := make(chan error, 1)
	if err := s.call(ctx, "mining.subscribe", []any{cfg.UserAgent}, func(r clientReply, took time.Duration) {
		subscribed <- s.subscribed(r, took)
	}); err != nil {
		return err
	}
	authorized := make(chan error, 1)
	if err := s.call(ctx, "mining.authorize", []any{cfg.User, cfg.Pass}, func(r clientReply, _ time.Duration) {
		authorized <- s.authorize(r)
	}); err != nil {
		return err
	}
	timeout := time.NewTimer(s.c.t.handshake)
	defer timeout.Stop()
	for _, ch := range []chan error{subscribed, authorized} {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-timeout.C:
			return fmt.Errorf("the pool did not answer subscribe and authorize within %v", s.c.t.handshake)
		case err := <-ch:
			if err != nil {
				return err
			}
		}
	}
	// Pools that do not know it answer with an error, which changes nothing.
	return s.call(ctx, "mining.extranonce.subscribe", []any{}, nil)
}

// decodeConfigure reads the answer to mining.configure: the mask granted,
// or 0 for an error, false, or a mask that gives fewer bits than asked.
func decodeConfigure(r clientReply) uint32 {
	if r.err != nil {
		return 0
	}
	var res map[string]json.RawMessage
	if json.Unmarshal(r.result, &res) != nil {
		return 0
	}
	var ok bool
	if json.Unmarshal(res["version-rolling"], &ok) != nil || !ok {
		return 0
	}
	var m string
	if json.Unmarshal(res["version-rolling.mask"], &m) != nil {
		return 0
	}
	b, err := hexBytes(m, "version-rolling.mask", 4)
	if err != nil {
		return 0
	}
	mask := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) & clientVersionMask
	if bitCount(mask) < clientVersionMinBits {
		return 0
	}
	return mask
}

func bitCount(x uint32) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func (s *clientSession) subscribed(r clientReply, took time.Duration) error {
	if r.err != nil {
		return fmt.Errorf("subscribe refused: %w", r.err)
	}
	en1, size, err := DecodeSubscribeResult(r.result)
	if err != nil {
		return fmt.Errorf("subscribe result: %w", err)
	}
	s.c.latency(took)
	s.mu.Lock()
	s.en1, s.en2Size = en1, size
	s.mu.Unlock()
	return nil
}

func (s *clientSession) authorized() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authed
}

func (s *clientSession) authorize(r clientReply) error {
	var ok bool
	if r.err == nil && json.Unmarshal(r.result, &ok) == nil && ok {
		s.mu.Lock()
		s.authed = true
		job := s.job
		s.mu.Unlock()
		if job != nil {
			s.c.publish(job)
		}
		return nil
	}
	if r.err != nil {
		return fmt.Errorf("worker %q refused: %w", s.c.cfg.User, r.err)
	}
	return fmt.Errorf("worker %q refused: the pool answered %s", s.c.cfg.User, r.result)
}

// call sends a request; done, if not nil, gets its response.
func (s *clientSession) call(ctx context.Context, method string, params any, done func(clientReply, time.Duration)) error {
	s.mu.Lock()
	if s.closed || s.pending == nil {
		s.mu.Unlock()
		return errors.New("connection closed")
	}
	s.nextID++
	id := s.nextID
	s.pending[id] = pendingCall{sent: time.Now(), done: done}
	s.mu.Unlock()
	line, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return err
	}
	select {
	case s.out <- append(line, '\n'):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// reply answers a request of the pool, dropping the answer when the
// queue is full: the pool asked for nothing the mining needs.
func (s *clientSession) reply(id json.RawMessage, result any, err []any) {
	if len(id) == 0 || bytes.Equal(id, []byte("null")) {
		return // a notification
	}
	line, _ := json.Marshal(map[string]any{"id": id, "result": result, "error": err})
	select {
	case s.out <- append(line, '\n'):
	default:
	}
}

// write sends the queued lines until ctx ends or a write fails.
func (s *clientSession) write(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case line := <-s.out:
			s.conn.SetWriteDeadline(time.Now().Add(s.c.t.write))
			if _, err := s.conn.Write(line); err != nil {
				s.stop(fmt.Errorf("write: %w", err))
				return
			}
		}
	}
}

// read reads the pool's lines until the connection ends. A pool that sends
// no job for the silence time is dead, however much else it says.
func (s *clientSession) read() {
	r := bufio.NewReaderSize(s.conn, maxClientLine)
	for {
		s.mu.Lock()
		s.conn.SetReadDeadline(s.lastJob.Add(s.c.t.silence))
		s.mu.Unlock()
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			s.stop(fmt.Errorf("the pool sent a line over %d bytes", maxClientLine))
			return
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			s.stop(fmt.Errorf("the pool sent no job for %v", s.c.t.silence))
			return
		}
		if err != nil {
			s.stop(fmt.Errorf("read: %w", err))
			return
		}
		s.handle(bytes.TrimSpace(line))
	}
}

// handle acts on one line of the pool. A line that is not a message is
// logged and skipped: one bad line is no reason to drop the work.
func (s *clientSession) handle(line []byte) {
	if len(line) == 0 {
		return
	}
	var m clientMsg
	if err := json.Unmarshal(line, &m); err != nil {
		s.c.log.Warn("pool sent a line that is not JSON-RPC", "pool", s.url, "err", err, "line", truncate(line))
		return
	}
	if m.Method == "" {
		s.response(&m)
		return
	}
	if err := s.request(&m); err != nil {
		s.c.log.Warn("pool message refused", "pool", s.url, "method", m.Method, "err", err)
	}
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// response hands a response to the request that waits for it.
func (s *clientSession) response(m *clientMsg) {
	id, err := strconv.ParseUint(string(m.ID), 10, 64)
	s.mu.Lock()
	p, ok := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()
	if err != nil || !ok {
		s.c.log.Debug("pool answered no request of ours", "pool", s.url, "id", string(m.ID))
		return
	}
	if p.done != nil {
		p.done(clientReply{result: m.Result, err: decodeRPCError(m.Error)}, time.Since(p.sent))
	}
}
