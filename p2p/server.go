// Package p2p connects a node to its peers over TCP: framed messages
// (package wire; README.md describes the protocol), a version handshake,
// ping/pong liveness, address gossip, block relay of tip announcements,
// transaction relay, sync from peers with more work, a periodic consensus
// round, and the defences: message rate limits, misbehaviour scores that
// discourage an address, eviction when inbound slots are full, and bans.
// Each of these has a file of its own; this one holds the Server and its
// dispatch.
package p2p

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/internal/fanout"
	"github.com/hashforge/hashforge/p2p/wire"
)

// Chain is what the peer layer needs of the chain.
type Chain interface {
	Tip() chain.Tip
	Params() *chain.Params
	ProcessBlock(ctx context.Context, b *chain.Block) error
	ProcessBlocks(ctx context.Context, blocks []*chain.Block) (int, error)
	NewHeaderChain() *chain.HeaderChain
	Subscribe() (<-chan chain.Tip, func())
	Have(h chain.Hash) bool
	Block(h chain.Hash) (*chain.Block, error)
	Locator() []chain.Hash
	HeadersAfter(locator []chain.Hash, stop chain.Hash, max int) []chain.Header
}

// Book keeps the addresses of reachable peers across restarts.
type Book interface {
	Peers() ([]string, error)
	PutPeer(addr string, seen time.Time) error
}

// Config sets the peer layer's addresses, limits and timers.
type Config struct {
	Listen            string   // host:port to accept peers on; "" accepts none
	Connect           []string // peers to keep connected (-k)
	MaxInbound        int      // ready inbound peers; a newcomer past the handshake evicts one when full
	MaxOutbound       int
	MaxPending        int           // inbound connections still in their handshake, apart from MaxInbound
	PingInterval      time.Duration // liveness and tip exchange
	IdleTimeout       time.Duration // a peer silent this long is dropped
	ConsensusInterval time.Duration // how often every peer's tip is compared with ours
	HandshakeTimeout  time.Duration
	BanDuration       time.Duration // how long misbehaviour discourages, and a manual ban's default
	// BanFile keeps the operator's bans across restarts (banfile.go); ""
	// keeps them in memory.
	BanFile string
	// TxAnnounceInterval is the mean time between two announcements of
	// transactions to one peer (trickle.go); 0 announces each at once.
	TxAnnounceInterval time.Duration

	// Clock is where the peer layer reads the time for its decisions
	// (timeouts, stalls, budgets, bans); nil is the system clock. Random
	// gives the node ID, ping nonces and the order peers are asked for
	// blocks in; nil is crypto/rand. A simulator gives every node its
	// virtual clock and a seeded source, so that a run repeats exactly.
	Clock  func() time.Time
	Random io.Reader
}

// DefaultConfig returns the limits and timers of design.md.
func DefaultConfig() Config {
	return Config{
		MaxInbound:        32,
		MaxOutbound:       8,
		MaxPending:        16,
		PingInterval:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ConsensusInterval: 60 * time.Second,
		HandshakeTimeout:  10 * time.Second,
		BanDuration:       24 * time.Hour,
		// Bitcoin Core's to an outbound peer (5 s to an inbound one).
		TxAnnounceInterval: 2 * time.Second,
	}
}

// Server runs the peer layer of one node.
type Server struct {
	cfg     Config
	chain   Chain
	pool    Mempool
	book    Book
	log     *slog.Logger
	now     func() time.Time // cfg.Clock
	magic   [4]byte
	genesis chain.Hash
	nodeID  uint64

	randMu  sync.Mutex     // cfg.Random, which may not be safe for concurrent use
	shuffle *mrand.Rand    // under mu: the order peers are asked for blocks in, the announcement times
	invWake chan struct{}  // a peer's queue of announcements filled
	invAt   announceTimers // under mu: when the announcement timers fire (trickle.go)
	dialing atomic.Int64   // dials connecting now

	mu         sync.Mutex
	listenPort uint16
	peers      peerSet
	addrs      map[string]*addrState
	bans       banBook
	syncPeer   *peer
	syncSince  time.Time
	syncAsked  bool // a getheaders to syncPeer awaits its headers
	dl         *download
	progress   progress
	txs        txState
	wg         sync.WaitGroup

	traffic  trafficStats
	banCount atomic.Uint64 // peers discouraged since start

	peerEvents fanout.Fanout[PeerEvent]
}

// New returns a peer layer for ch that relays the transactions of pool;
// book may be nil.
func New(cfg Config, ch Chain, pool Mempool, book Book, log *slog.Logger) *Server {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	s := &Server{
		cfg: cfg, chain: ch, pool: pool, book: book, log: log,
		now:     cfg.Clock,
		magic:   ch.Params().Magic,
		genesis: ch.Params().GenesisHash(),
		addrs:   make(map[string]*addrState),
		bans:    newBanBook(),
		dl:      newDownload(cfg.Clock),
		traffic: newTrafficStats(),
		invWake: make(chan struct{}, 1),
	}
	s.nodeID = s.random64()
	s.txs = newTxState(s.random64())
	s.shuffle = mrand.New(mrand.NewPCG(s.random64(), s.random64()))
	return s
}

// random64 draws 64 bits from cfg.Random: node IDs and ping nonces.
func (s *Server) random64() uint64 {
	var b [8]byte
	s.randMu.Lock()
	io.ReadFull(s.cfg.Random, b[:])
	s.randMu.Unlock()
	return binary.LittleEndian.Uint64(b[:])
}

// Listen binds the listening socket, so a port in use fails start-up
// instead of a background goroutine. Run serves it.
func (s *Server) Listen() (net.Listener, error) {
	if s.cfg.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("p2p: %w", err)
	}
	s.mu.Lock()
	s.listenPort = uint16(ln.Addr().(*net.TCPAddr).Port)
	s.mu.Unlock()
	return ln, nil
}

// Run serves peers until ctx ends; ln may be nil.
func (s *Server) Run(ctx context.Context, ln net.Listener) {
	for _, a := range s.cfg.Connect {
		s.learn(a, true)
	}
	if s.book != nil {
		saved, err := s.book.Peers()
		if err != nil {
			s.log.Warn("read peer book", "err", err)
		}
		for _, a := range saved {
			s.learn(a, false)
		}
	}
	if ln != nil {
		s.log.Info("p2p listening", "addr", ln.Addr().String())
		s.wg.Go(func() { s.accept(ctx, ln) })
		context.AfterFunc(ctx, func() { ln.Close() })
	}
	s.wg.Go(func() { s.relay(ctx) })
	s.wg.Go(func() { s.trickleLoop(ctx) })
	s.wg.Go(func() { s.connectLoop(ctx) })
	s.loop(ctx)

	s.mu.Lock()
	for p := range s.peers.all() {
		p.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// loop dials peers, pings them and runs the consensus round.
func (s *Server) loop(ctx context.Context) {
	dial := time.NewTicker(500 * time.Millisecond)
	defer dial.Stop()
	ping := time.NewTicker(s.cfg.PingInterval)
	defer ping.Stop()
	round := time.NewTicker(s.cfg.ConsensusInterval)
	defer round.Stop()
	measure := time.NewTicker(progressEvery)
	defer measure.Stop()
	s.measureProgress() // the baseline of the first rate
	for {
		s.dialMissing(ctx)
		select {
		case <-ctx.Done():
			return
		case <-dial.C:
		case <-ping.C:
			s.pingAll()
		case <-round.C:
			s.consensusRound()
		case <-measure.C:
			s.measureProgress()
		}
	}
}

// tipInfo is our tip as pings, pongs and versions carry it.
func (s *Server) tipInfo() wire.TipInfo { return wire.NewTipInfo(s.chain.Tip()) }

// handle acts on one message from p. An error ends the connection without a
// ban: what it reports is a slip of a buggy peer, not an attack. Only the
// handshake's messages may come before the handshake ends.
func (s *Server) handle(ctx context.Context, p *peer, m wire.Message) error {
	switch m := m.(type) {
	case *wire.MsgVersion:
		return s.onVersion(p, m)
	case *wire.MsgVerAck:
		return s.onVerAck(p)
	}
	if !p.ready() {
		return fmt.Errorf("%s before the handshake", m.Command())
	}
	if !p.limits.allow(m.Command(), s.now()) {
		if !relayed(m) {
			s.misbehave(p, floodScore, fmt.Errorf("%w: %s over %g a second", errFlood, m.Command(), budgets[m.Command()].perSec))
		}
		return nil
	}
	switch m := m.(type) {
	case *wire.MsgPing:
		s.onPing(p, m)
	case *wire.MsgPong:
		s.onPong(p, m)
	case *wire.MsgGetAddr:
		p.answer(&wire.MsgAddr{Addrs: s.goodAddrs()})
	case *wire.MsgAddr:
		s.onAddr(p, m)
	case *wire.MsgInv:
		s.onInv(p, m)
	case *wire.MsgGetData:
		s.onGetData(p, m)
	case *wire.MsgNotFound:
		// A transaction is asked for again at its next announcement, once
		// txRequestTimeout has passed; a block of the download at once.
		s.onNotFound(p, m)
	case *wire.MsgGetHeaders:
		p.answer(&wire.MsgHeaders{Headers: s.chain.HeadersAfter(m.Locator, m.Stop, chain.MaxHeaders)})
	case *wire.MsgHeaders:
		s.onHeaders(p, m)
	case *wire.MsgBlock:
		s.blockFrom(ctx, p, m.Block)
	case *wire.MsgTx:
		s.onTx(p, m.Tx)
	case *wire.MsgMempool:
		s.answerMempool(p)
	}
	return nil
}

// broadcast sends m to every ready peer but except (nil: to every one).
func (s *Server) broadcast(m wire.Message, except *peer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.peers.all() {
		if p != except && p.ready() {
			p.send(m)
		}
	}
}

// Peers describes every ready peer.
func (s *Server) Peers() []PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PeerInfo
	for p := range s.peers.all() {
		if p.ready() {
			out = append(out, p.info())
		}
	}
	return out
}
