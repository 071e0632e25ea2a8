package stratum

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashforge/hashforge/chain"
)

const (
	// sendQueue bounds the messages waiting for a miner to read them. A
	// miner that reads keeps it near empty (a job and a difficulty at a
	// time); one that lets it fill has stopped reading and is dropped, so
	// that a job broadcast never waits on it.
	sendQueue = 64
	// writeTimeout bounds one write to a miner, for the same reason.
	writeTimeout = 10 * time.Second
	// maxBadLines is how many lines that are not requests a connection may
	// send: a real miner sends none, a stray client (an HTTP probe, a
	// miner of another protocol) is answered and then dropped.
	maxBadLines = 5
	// maxJobs is how many of its latest jobs a connection keeps: shares of
	// older ones are answered "job not found", those of jobs on an old tip
	// "stale".
	maxJobs = 8
)

// session is one miner's connection. The reading goroutine answers its
// requests; the server's broadcaster sends it jobs; a writing goroutine
// drains what both queue.
type session struct {
	srv    *Server
	conn   net.Conn
	host   string
	opened time.Time

	outMu  sync.Mutex
	out    chan []byte
	closed bool          // out is closed: nothing more is sent
	wrote  chan struct{} // a message left the queue, for pace

	badLines int // the reading goroutine's own

	mu          sync.Mutex
	extranonce1 []byte // set by mining.subscribe
	agent       string
	authorised  bool
	address     chain.Address   // the first authorised user's
	worker      string          // the first authorised user's name after the address
	users       map[string]bool // every user authorised, as mining.submit names them
	mask        uint32          // the version bits agreed in mining.configure
	vd          vardiff
	diffChanged bool          // vd.diff changed since the last job
	sentDiff    float64       // the last mining.set_difficulty
	jobs        []*sessionJob // newest last
	jobCount    uint64
	accepted    uint64
	rejected    map[string]uint64
	meter       rateMeter
	lastShare   time.Time
	blocks      uint64
}

// sessionJob is a job as one connection was sent it.
type sessionJob struct {
	id     string
	work   *work
	target *big.Int // the share target in force when it was sent
	diff   float64
	seen   map[chain.Hash]struct{} // shares submitted, to refuse duplicates
}

func newSession(s *Server, conn net.Conn, host string) *session {
	now := time.Now()
	cfg := &s.cfg
	return &session{
		srv: s, conn: conn, host: host, opened: now,
		out:      make(chan []byte, sendQueue),
		wrote:    make(chan struct{}, 1),
		users:    map[string]bool{},
		vd:       newVardiff(cfg.ShareInterval, cfg.StartDifficulty, cfg.MinDifficulty, cfg.MaxDifficulty, now),
		rejected: map[string]uint64{},
		meter:    rateMeter{start: now},
	}
}

// sessionID is the subscription id of a connection, which a reconnecting
// miner sends back to resume it: its extranonce1 in hex.
func sessionID(extranonce1 []byte) string { return hex.EncodeToString(extranonce1) }

// serve runs the connection until the miner leaves, breaks a limit, or the
// server closes it.
func (c *session) serve(ctx context.Context) {
	log := c.srv.log.With("remote", c.conn.RemoteAddr().String())
	log.Debug("stratum connection")
	done := make(chan struct{})
	go func() { c.write(); close(done) }()
	c.read(ctx)
	c.finish()
	<-done
	c.mu.Lock()
	extranonce1 := c.extranonce1
	c.mu.Unlock()
	c.srv.forget(c, extranonce1)
	log.Debug("stratum connection closed")
}

// write sends what is queued until the queue closes, then closes the
// connection: a final error message goes out before it.
func (c *session) write() {
	defer c.conn.Close()
	for b := range c.out {
		c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := c.conn.Write(b); err != nil {
			c.conn.Close() // the reader stops, and finish closes out
			for range c.out {
			}
			return
		}
		select {
		case c.wrote <- struct{}{}:
		default:
		}
	}
}

// pace holds the miner's next request while the answers to its last ones
// fill half the queue, so that a burst of shares (a fast miner, a backlog
// after a new tip) waits for the writer instead of overflowing the queue
// and dropping a miner that reads. The other half keeps room for jobs.
// A miner whose answers stay unread for writeTimeout is dropped.
func (c *session) pace() bool {
	if len(c.out) <= sendQueue/2 {
		return true
	}
	deadline := time.NewTimer(writeTimeout)
	defer deadline.Stop()
	for len(c.out) > sendQueue/2 {
		select {
		case <-c.wrote:
		case <-deadline.C:
			return false
		}
	}
	return true
}

// send queues one message; a full queue drops the miner.
func (c *session) send(v any) {
	b := encode(v)
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.closed {
		return
	}
	select {
	case c.out <- b:
	default:
		c.srv.log.Info("stratum miner dropped: it does not read what it is sent", "remote", c.conn.RemoteAddr().String())
		c.closed = true
		close(c.out)
		c.conn.Close()
	}
}

// finish closes the queue: the writer sends what is left, then closes.
func (c *session) finish() {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.out)
	}
}

// encode writes one line of JSON. Every value the server sends is made of
// strings, numbers it chose, bools and raw JSON it already parsed.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(response{Error: refuse(codeOther, "", "internal error: %v", err)})
	}
	return append(b, '\n')
}

func (c *session) reply(id json.RawMessage, result any, err *rpcError) {
	if err != nil {
		result = nil
	}
	c.send(response{ID: id, Result: result, Error: err})
}

// read answers requests, one line each, until the connection ends.
func (c *session) read(ctx context.Context) {
	r := bufio.NewReaderSize(c.conn, maxLine)
	for {
		ready := c.ready()
		deadline := c.opened.Add(c.srv.cfg.AuthTimeout)
		if ready {
			deadline = time.Now().Add(c.srv.cfg.IdleTimeout)
		}
		c.conn.SetReadDeadline(deadline)
		line, err := r.ReadSlice('\n')
		var ne net.Error
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			c.reply(nil, nil, refuse(codeInvalidRequest, "", "line over %d bytes", maxLine))
			return
		case errors.As(err, &ne) && ne.Timeout() && ready:
			c.reply(nil, nil, refuse(codeOther, "", "idle for %v", c.srv.cfg.IdleTimeout))
			return
		case errors.As(err, &ne) && ne.Timeout():
			c.reply(nil, nil, refuse(codeUnauthorized, "", "not subscribed and authorised within %v", c.srv.cfg.AuthTimeout))
			return
		case err != nil:
			return
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if isHTTP(line) {
			// A web page the node's user opened can reach a loopback
			// port with an HTTP request: it gets no answer to read.
			return
		}
		req, err := DecodeRequest(line)
		if err != nil {
			c.reply(req.ID, nil, badRequest(err))
			if c.badLines++; c.badLines >= maxBadLines {
				return
			}
			continue
		}
		result, rerr := c.handle(ctx, req)
		c.reply(req.ID, result, rerr)
		c.kick(ctx)
		if !c.pace() {
			c.srv.log.Info("stratum miner dropped: it does not read what it is sent", "remote", c.conn.RemoteAddr().String())
			return
		}
	}
}

// isHTTP reports whether line is an HTTP request line, which no miner sends.
func isHTTP(line []byte) bool {
	method, rest, ok := bytes.Cut(line, []byte(" "))
	return ok && bytes.Contains(rest, []byte(" HTTP/")) && len(method) > 0 && len(method) <= 7 &&
		bytes.Equal(method, bytes.ToUpper(method))
}

// badRequest is the answer to a line DecodeRequest refused.
func badRequest(err error) *rpcError {
	msg := strings.TrimPrefix(err.Error(), ErrBadRequest.Error()+": ")
	if errors.Is(err, errNotJSON) {
		return refuse(codeParse, "", "parse error: %s", msg)
	}
	return refuse(codeInvalidRequest, "", "invalid request: %s", msg)
}

func (c *session) handle(ctx context.Context, req Request) (any, *rpcError) {
	switch req.Method {
	case "mining.subscribe":
		return c.subscribe(req.Params)
	case "mining.authorize":
		return c.authorize(req.Params)
	case "mining.extranonce.subscribe":
		// The extranonce1 of a connection never changes, so there will
		// never be a mining.set_extranonce to send.
		return true, nil
	case "mining.configure":
		return c.configure(req.Params)
	case "mining.suggest_difficulty":
		return c.suggestDifficulty(req.Params)
	case "mining.submit":
		return c.submit(ctx, req.Params)
	}
	return nil, refuse(codeMethodNotFound, "", "method not found: %.64q", req.Method)
}

// ready reports a miner that subscribed and authorised: it gets jobs.
func (c *session) ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.extranonce1 != nil && c.authorised
}

// payTo returns the address the miner's jobs pay, once it is ready.
func (c *session) payTo() (chain.Address, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.srv.payout(c.address), c.extranonce1 != nil && c.authorised
}

// kick sends a ready miner its first job, or a job at a difficulty that
// changed since its last.
func (c *session) kick(ctx context.Context) {
	c.mu.Lock()
	first := len(c.jobs) == 0
	need := first || c.diffChanged
	c.mu.Unlock()
	payTo, ready := c.payTo()
	if !ready || !need {
		return
	}
	w, err := c.srv.jobs.get(ctx, payTo)
	if err != nil {
		c.srv.log.Error("stratum job", "err", err)
		return
	}
	c.sendWork(w, first)
}

// retargetQuiet lowers the difficulty of a miner that has sent too few
// shares to retarget on a share.
func (c *session) retargetQuiet(ctx context.Context, now time.Time) {
	c.mu.Lock()
	_, changed := c.vd.retarget(now, false)
	c.diffChanged = c.diffChanged || changed
	c.mu.Unlock()
	if changed {
		c.kick(ctx)
	}
}

// sendWork sends the miner a job on w, after a mining.set_difficulty when
// its share difficulty changed. The share difficulty is the vardiff's, but
// never above the block's: a share that is a block must reach the server.
// A block easier than the least share difficulty (regtest's, 2^-31) is the
// exception: every share is then a block, and the vardiff paces them as
// --block-interval paces the node's own miner, where a share difficulty at
// the block's would have the miner flood the server with blocks.
func (c *session) sendWork(w *work, clean bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	diff := c.vd.diff
	if w.blockDiff >= c.srv.cfg.MinDifficulty {
		diff = min(diff, w.blockDiff)
	}
	target, err := DifficultyTarget(diff)
	if err != nil {
		diff, target = w.blockDiff, w.blockTarget
	}
	c.jobCount++
	sj := &sessionJob{id: strconv.FormatUint(c.jobCount, 16), work: w, target: target, diff: diff, seen: map[chain.Hash]struct{}{}}
	if len(c.jobs) == maxJobs {
		c.jobs = append(c.jobs[:0], c.jobs[1:]...)
	}
	c.jobs = append(c.jobs, sj)
	c.diffChanged = false
	// Sent under mu, so that two goroutines' jobs reach the miner in the
	// order they were made: the newest job is the one it works on.
	if diff != c.sentDiff {
		c.sentDiff = diff
		c.send(notification{Method: "mining.set_difficulty", Params: []any{diff}})
	}
	job := w.job
	job.ID, job.Clean = sj.id, clean
	c.send(notification{Method: "mining.notify", Params: job.NotifyParams()})
}

// stats returns the worker's counters, once it authorised.
func (c *session) stats(now time.Time) (WorkerStats, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.authorised {
		return WorkerStats{}, false
	}
	return WorkerStats{
		Address: c.address, Worker: c.worker, Remote: c.conn.RemoteAddr().String(), UserAgent: c.agent,
		Difficulty: c.sentDiff, Accepted: c.accepted, Rejected: maps.Clone(c.rejected),
		Hashrate: c.meter.rate(now), LastShare: c.lastShare, BlocksFound: c.blocks, Connected: c.opened,
	}, true
}
