package p2p

import (
	"iter"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// outQueue bounds the messages waiting for a peer; a peer that falls this
// far behind is dropped rather than buffered without limit.
const outQueue = 512

// peerSet is the connected peers in the order they connected, which is the
// order every walk over them takes: a map's would differ from run to run,
// and a simulated network must repeat exactly.
type peerSet struct {
	list []*peer
	seq  uint64 // the last peer's number
}

// add adds p, numbering it after every peer before it.
func (ps *peerSet) add(p *peer) {
	ps.seq++
	p.seq = ps.seq
	ps.list = append(ps.list, p)
}

func (ps *peerSet) remove(p *peer) {
	if i := slices.Index(ps.list, p); i >= 0 {
		ps.list = slices.Delete(ps.list, i, i+1)
	}
}

func (ps *peerSet) has(p *peer) bool { return slices.Contains(ps.list, p) }

// all walks the peers; a walk must not add or remove one.
func (ps *peerSet) all() iter.Seq[*peer] { return slices.Values(ps.list) }

// peer is one connection, inbound or outbound.
type peer struct {
	seq      uint64 // the order it connected in: walks over peers take it
	conn     net.Conn
	addr     string // remote address as connected
	dialed   string // the address we dialled; "" for inbound peers
	inbound  bool
	opened   time.Time // eviction takes the youngest ready peer of a group, the oldest in a handshake
	out      chan wire.Message
	done     chan struct{}
	closed   atomic.Bool // set as done closes: closing asks it after every message
	closeOne sync.Once

	mu         sync.Mutex
	version    *wire.MsgVersion
	verAcked   bool
	listenAddr string // host:port the peer accepts connections on, "" if none
	tip        wire.TipInfo
	lastSeen   time.Time
	pingNonce  uint64
	pingSent   time.Time
	rtt        time.Duration
	banScore   int
	lastBlock  time.Time    // when the peer last sent a block new to us; eviction spares those that do
	known      *seenFilter  // shortIDs of txids the peer has seen: announced by either side, or sent
	invTx      []chain.Hash // txids waiting to be announced to the peer (trickle.go)

	limits limiter // the peer's message budgets; its own lock
}

// newPeer returns a peer on conn, which is nil for a peer whose messages
// a driver other than the TCP server carries (Attach); addr is its remote
// address, dialed the address we dialled ("" inbound).
func newPeer(conn net.Conn, addr, dialed string, now time.Time) *peer {
	return &peer{
		conn:     conn,
		addr:     addr,
		dialed:   dialed,
		inbound:  dialed == "",
		opened:   now,
		out:      make(chan wire.Message, outQueue),
		done:     make(chan struct{}),
		lastSeen: now,
		known:    newSeenFilter(maxKnownInv),
	}
}

// send queues m without waiting; with the queue full, m is dropped. What we
// send unasked (announcements, pings, requests) is repeated by the next
// ping, consensus round or sync, and the queue may be full only because the
// peer is downloading blocks it asked for. A peer that stops reading
// altogether hits the write deadline.
func (p *peer) send(m wire.Message) {
	select {
	case p.out <- m:
	case <-p.done:
	default:
	}
}

// answer queues a reply, waiting for room: the peer asked for it, and while
// the reader waits here it reads nothing more from that peer.
func (p *peer) answer(m wire.Message) {
	select {
	case p.out <- m:
	case <-p.done:
	}
}

// seen records txids as seen by the peer and returns those it had not
// seen, in order: each is announced to a peer once, and never to one that
// told us of it.
func (p *peer) seen(ids ...chain.Hash) []chain.Hash {
	p.mu.Lock()
	defer p.mu.Unlock()
	var fresh []chain.Hash
	for _, id := range ids {
		if p.known.put(shortID(id)) {
			fresh = append(fresh, id)
		}
	}
	return fresh
}

func (p *peer) close() {
	p.closeOne.Do(func() {
		p.closed.Store(true)
		close(p.done)
		if p.conn != nil {
			p.conn.Close()
		}
	})
}

// closing reports whether the connection is closed or closing: its slot is
// free though the reader has not yet dropped it.
func (p *peer) closing() bool { return p.closed.Load() }

func (p *peer) ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version != nil && p.verAcked
}

// identity returns the peer's node ID and listening address, once known.
func (p *peer) identity() (nodeID uint64, listen string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.version == nil {
		return 0, "", false
	}
	return p.version.NodeID, p.listenAddr, true
}

func (p *peer) setTip(t wire.TipInfo) {
	p.mu.Lock()
	p.tip = t
	p.mu.Unlock()
}

func (p *peer) tipInfo() wire.TipInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tip
}

// PeerInfo describes a connected peer for the API.
type PeerInfo struct {
	Addr string `json:"addr"` // the socket's remote address
	// Listen is where the peer accepts connections, host and the port from
	// its version message: for an inbound peer, what to dial to reach it
	// (its socket's port is an ephemeral one). Empty before the handshake.
	Listen    string    `json:"listen,omitempty"`
	Direction string    `json:"direction"` // "inbound" or "outbound"
	Height    uint64    `json:"height"`
	Tip       string    `json:"tip"`
	Work      string    `json:"work"` // cumulative, decimal
	LastSeen  time.Time `json:"last_seen"`
	PingMS    *float64  `json:"ping_ms"` // null until a pong came back
	BanScore  int       `json:"ban_score"`
}

func (p *peer) info() PeerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	dir := "outbound"
	if p.inbound {
		dir = "inbound"
	}
	pi := PeerInfo{
		Addr: p.addr, Listen: p.listenAddr, Direction: dir, Height: p.tip.Height, Tip: p.tip.Hash.String(),
		Work: p.tip.WorkInt().String(), LastSeen: p.lastSeen, BanScore: p.banScore,
	}
	if p.rtt > 0 {
		ms := float64(p.rtt.Microseconds()) / 1000
		pi.PingMS = &ms
	}
	return pi
}
