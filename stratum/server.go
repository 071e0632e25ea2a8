package stratum

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/internal/fanout"
)

// Chain is what the server needs of the node's chain: the door every block
// goes through, and word of each new tip so miners drop stale work at once.
type Chain interface {
	ProcessBlock(ctx context.Context, b *chain.Block) error
	Subscribe() (<-chan chain.Tip, func())
}

// Templates builds the next block on the tip paying payTo, its coinbase's
// extranonce 0. The node's miner implements it.
type Templates interface {
	BlockTemplate(ctx context.Context, payTo chain.Address) (*chain.Block, error)
}

// ServerConfig sets the server's policy; each zero value stands for the
// default named on its field.
type ServerConfig struct {
	// PayTo, when set, is the address every coinbase pays (the node's: a
	// pool that keeps the rewards). When nil each worker mines solo: the
	// coinbase of its jobs pays the address it authorised with.
	PayTo *chain.Address
	// ShareInterval is the time between shares vardiff aims for (10 s).
	ShareInterval time.Duration
	// StartDifficulty is a new connection's share difficulty (2^-8);
	// MinDifficulty and MaxDifficulty bound vardiff and what miners ask
	// for (2^-16 and 2^40). A job's share difficulty never exceeds its
	// block's difficulty: a miner must not hold back a share that is a block.
	StartDifficulty, MinDifficulty, MaxDifficulty float64
	// MaxConns bounds open connections (4096); MaxPerHost those from one
	// IP address (512: a farm behind one NAT, not one peer's flood).
	MaxConns, MaxPerHost int
	// IdleTimeout closes an authorised connection silent this long (10
	// min); AuthTimeout one not subscribed and authorised this long after
	// it opened (30 s).
	IdleTimeout, AuthTimeout time.Duration
	// RefreshInterval is how often miners get a job with the newest
	// transactions on an unchanged tip (30 s).
	RefreshInterval time.Duration
	// VersionMask is the header version bits miners may roll under BIP
	// 310 (0x1fffe000, the bits BIP 320 leaves to them).
	VersionMask uint32
	// MaxFutureTime is how far ahead of the clock a share's ntime may be:
	// the network's chain.Params.MaxFutureTime (2 h), past which its block
	// would be refused.
	MaxFutureTime time.Duration
}

// DefaultServerConfig returns the defaults of every field but PayTo: what
// a zero field stands for.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		ShareInterval: 10 * time.Second,
		// 2^-8 is a share every 10 s from a core hashing 1.7 MH/s. A
		// start too low costs a few quick shares before vardiff's first
		// step (it retargets after 16); one too high costs a silent
		// retarget interval per step down.
		StartDifficulty: 1.0 / (1 << 8),
		MinDifficulty:   1.0 / (1 << 16),
		MaxDifficulty:   1 << 40,
		MaxConns:        4096,
		MaxPerHost:      512,
		IdleTimeout:     10 * time.Minute,
		AuthTimeout:     30 * time.Second,
		RefreshInterval: 30 * time.Second,
		VersionMask:     0x1fffe000,
		MaxFutureTime:   2 * time.Hour,
	}
}

// withDefaults returns cfg with every zero value replaced by its default.
func (cfg ServerConfig) withDefaults() ServerConfig {
	d := DefaultServerConfig()
	orDefault(&cfg.ShareInterval, d.ShareInterval)
	orDefault(&cfg.StartDifficulty, d.StartDifficulty)
	orDefault(&cfg.MinDifficulty, d.MinDifficulty)
	orDefault(&cfg.MaxDifficulty, d.MaxDifficulty)
	orDefault(&cfg.MaxConns, d.MaxConns)
	orDefault(&cfg.MaxPerHost, d.MaxPerHost)
	orDefault(&cfg.IdleTimeout, d.IdleTimeout)
	orDefault(&cfg.AuthTimeout, d.AuthTimeout)
	orDefault(&cfg.RefreshInterval, d.RefreshInterval)
	orDefault(&cfg.VersionMask, d.VersionMask)
	orDefault(&cfg.MaxFutureTime, d.MaxFutureTime)
	return cfg
}

// orDefault sets *v to d when it is zero or negative.
func orDefault[T int | uint32 | float64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// resumeFor is how long a closed connection's extranonce1 is kept for a
// miner that reconnects with its session id: long enough for a restart or
// a network blip, short enough that the map stays small.
const resumeFor = 10 * time.Minute

// Server is a Stratum v1 server: standard sha256d miners mine the node's
// blocks through it, each share checked and each block handed to the chain.
type Server struct {
	cfg   ServerConfig
	chain Chain
	jobs  *jobCache
	log   *slog.Logger

	extranonceMask uint32        // a random start, so that restarts do not reuse extranonces
	extranonceNext atomic.Uint32 // counts connections that subscribed

	mu       sync.Mutex
	sessions map[*session]struct{}
	perHost  map[string]int
	resume   map[string]resumable // closed sessions' ids to their extranonce1
	shares   map[string]uint64    // every share by result
	blocks   uint64

	found fanout.Fanout[BlockFound]
}

// blockEventBuffer is how many found blocks wait for a subscriber before
// newer ones are dropped: far more than workers find between two reads.
const blockEventBuffer = 16

// SubscribeBlocks returns a channel that receives every block a worker's
// share completed and the chain accepted, for the node's live events. The
// server never waits for a subscriber; cancel ends the subscription.
func (s *Server) SubscribeBlocks() (blocks <-chan BlockFound, cancel func()) {
	return s.found.Subscribe(blockEventBuffer)
}

// resumable is the extranonce1 of a closed session, until it expires.
type resumable struct {
	extranonce1 []byte
	until       time.Time
}

// NewServer returns a server for miners of c's blocks, built by t.
func NewServer(cfg ServerConfig, c Chain, t Templates, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var seed [4]byte
	rand.Read(seed[:])
	return &Server{
		cfg: cfg.withDefaults(), chain: c, jobs: newJobCache(t), log: log,
		extranonceMask: binary.LittleEndian.Uint32(seed[:]),
		sessions:       map[*session]struct{}{},
		perHost:        map[string]int{},
		resume:         map[string]resumable{},
		shares:         map[string]uint64{},
	}
}

// Serve accepts miners on ln until ctx ends, then closes ln and every
// connection and returns nil; it returns an error only when ln fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	tips, unsubscribe := s.chain.Subscribe()
	defer unsubscribe()
	// On the way out, in this order: close every connection, end the
	// broadcaster and every session's requests, wait for them all.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer s.closeAll()
	wg.Go(func() { s.run(ctx, tips) })
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if ctx.Err() != nil {
			if conn != nil {
				conn.Close()
			}
			return nil
		}
		var ne net.Error
		if errors.As(err, &ne) && !errors.Is(err, net.ErrClosed) {
			// Out of file descriptors and the like: wait for connections
			// to close rather than spin, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("stratum accept", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		if err != nil {
			return fmt.Errorf("stratum: accept: %w", err)
		}
		backoff = 0
		sess, refusal := s.admit(conn)
		if refusal != nil {
			s.log.Debug("stratum connection refused", "remote", conn.RemoteAddr(), "why", refusal.message)
			// A fresh socket's buffer takes one line without blocking.
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			conn.Write(encode(response{Error: refusal}))
			conn.Close()
			continue
		}
		wg.Go(func() { sess.serve(ctx) })
	}
}

// admit registers a connection within MaxConns and MaxPerHost.
func (s *Server) admit(conn net.Conn) (*session, *rpcError) {
	host := hostOf(conn.RemoteAddr())
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) >= s.cfg.MaxConns {
		return nil, refuse(codeOther, "", "too many connections: the server takes %d", s.cfg.MaxConns)
	}
	if s.perHost[host] >= s.cfg.MaxPerHost {
		return nil, refuse(codeOther, "", "too many connections from %s: the server takes %d from one host", host, s.cfg.MaxPerHost)
	}
	sess := newSession(s, conn, host)
	s.sessions[sess] = struct{}{}
	s.perHost[host]++
	return sess, nil
}

// hostOf is the IP of a remote address, which MaxPerHost counts by.
func hostOf(a net.Addr) string {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// forget unregisters a closed session and keeps its extranonce1 for a
// miner that resumes it.
func (s *Server) forget(sess *session, extranonce1 []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess)
	if s.perHost[sess.host]--; s.perHost[sess.host] <= 0 {
		delete(s.perHost, sess.host)
	}
	if extranonce1 == nil {
		return
	}
	now := time.Now()
	for id, r := range s.resume {
		if now.After(r.until) {
			delete(s.resume, id)
		}
	}
	s.resume[sessionID(extranonce1)] = resumable{extranonce1, now.Add(resumeFor)}
}

// extranonce1 returns the extranonce1 of the session id a miner resumes,
// when the server still keeps it, or a new one: a counter masked with a
// random start, unique among 2^32 connections.
func (s *Server) extranonce1(resumeID string) []byte {
	if resumeID != "" {
		s.mu.Lock()
		r, ok := s.resume[resumeID]
		delete(s.resume, resumeID)
		s.mu.Unlock()
		if ok && time.Now().Before(r.until) {
			return r.extranonce1
		}
	}
	n := s.extranonceNext.Add(1) ^ s.extranonceMask
	return binary.BigEndian.AppendUint32(nil, n)
}

// snapshot returns the open sessions.
func (s *Server) snapshot() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		out = append(out, sess)
	}
	return out
}

func (s *Server) closeAll() {
	for _, sess := range s.snapshot() {
		sess.conn.Close()
	}
}

// count adds a share's result to the server's totals.
func (s *Server) count(result string, block bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shares[result]++
	if block {
		s.blocks++
	}
}

// run sends new jobs: a clean one to every miner on a new tip, fresh
// transactions every RefreshInterval, and retargets of miners that went
// quiet every ShareInterval.
func (s *Server) run(ctx context.Context, tips <-chan chain.Tip) {
	refresh := time.NewTicker(s.cfg.RefreshInterval)
	defer refresh.Stop()
	retarget := time.NewTicker(s.cfg.ShareInterval)
	defer retarget.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case tip := <-tips:
			start := time.Now()
			s.jobs.renew(tip.Hash)
			n := s.broadcast(ctx, true)
			s.log.Debug("stratum clean jobs", "height", tip.Height, "miners", n, "took", time.Since(start))
		case <-refresh.C:
			s.jobs.renew(s.jobs.currentTip())
			s.broadcast(ctx, false)
		case now := <-retarget.C:
			for _, sess := range s.snapshot() {
				sess.retargetQuiet(ctx, now)
			}
		}
	}
}

// broadcast sends every working miner a job on the current work, and
// returns how many it reached. Sessions only queue what they are sent, so
// a miner that stops reading delays no one.
func (s *Server) broadcast(ctx context.Context, clean bool) int {
	n := 0
	for _, sess := range s.snapshot() {
		payTo, ok := sess.payTo()
		if !ok {
			continue
		}
		w, err := s.jobs.get(ctx, payTo)
		if err != nil {
			s.log.Error("stratum job", "err", err)
			continue
		}
		sess.sendWork(w, clean)
		n++
	}
	return n
}

// payout is the address a worker's jobs pay.
func (s *Server) payout(authorised chain.Address) chain.Address {
	if s.cfg.PayTo != nil {
		return *s.cfg.PayTo
	}
	return authorised
}

// Stats returns the server's counters and each authorised worker's.
func (s *Server) Stats() ServerStats {
	sessions := s.snapshot()
	now := time.Now()
	st := ServerStats{Connections: len(sessions), Workers: []WorkerStats{}}
	for _, sess := range sessions {
		if w, ok := sess.stats(now); ok {
			st.Workers = append(st.Workers, w)
			st.Hashrate += w.Hashrate
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Shares = maps.Clone(s.shares)
	st.BlocksFound = s.blocks
	return st
}
