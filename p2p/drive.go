package p2p

import (
	"context"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// The peer layer decides; something else carries. Run is the TCP driver:
// sockets, a reading and a writing goroutine a peer, tickers for pings and
// rounds, and goroutines that follow the chain's tips and the mempool. The
// calls in this file are a second driver's, one call at a time on its own
// clock (Config.Clock): the simulator attaches peers whose messages it
// carries over its links, hands the server each message that arrives,
// fires the timers, and tells it of its chain's tips and its mempool's
// transactions. Both drivers end in the same handlers (handle and what it
// calls), so what a simulated network does is what nodes on TCP do.

// attachedQueue bounds what one call may queue for an attached peer: the
// answers to one getdata (500 objects and a notfound) and more.
const attachedQueue = 1024

// Link is a peer whose messages the caller carries instead of a socket.
type Link struct {
	s *Server
	p *peer
}

// Attach adds a peer at addr, which we dialled when dialed (an outbound
// peer, its address in the book) or which dialled us. Our version is
// queued for it at once, as on a new TCP connection.
func (s *Server) Attach(addr string, dialed bool) *Link {
	d := ""
	if dialed {
		d = addr
	}
	p := newPeer(nil, addr, d, s.now())
	// Sent drains the queue after every call, so it never backs up as a
	// socket does; it only has to hold one call's answers (a getdata's 500
	// blocks and more), since answer waits for room.
	p.out = make(chan wire.Message, attachedQueue)
	s.mu.Lock()
	s.peers.add(p)
	port := s.listenPort
	s.mu.Unlock()
	p.send(&wire.MsgVersion{Protocol: wire.ProtocolVersion, Genesis: s.genesis, NodeID: s.nodeID, ListenPort: port, Tip: s.tipInfo()})
	return &Link{s: s, p: p}
}

// SetListenPort sets the port our version messages name as the one we
// accept peers on, where Listen does not bind one.
func (s *Server) SetListenPort(port uint16) {
	s.mu.Lock()
	s.listenPort = port
	s.mu.Unlock()
}

// Deliver hands the server a message from the link's peer, as its socket's
// reader would. It reports false when the server dropped the peer for it
// (a broken protocol, a ban): the link is closed then.
func (l *Link) Deliver(ctx context.Context, m wire.Message) bool {
	if l.p.closing() {
		return false
	}
	l.p.mu.Lock()
	l.p.lastSeen = l.s.now()
	l.p.mu.Unlock()
	if err := l.s.handle(ctx, l.p, m); err != nil || l.p.closing() {
		l.s.log.Debug("peer dropped", "addr", l.p.addr, "err", err)
		l.Close()
		return false
	}
	return true
}

// Sent takes the messages queued for the link's peer, oldest first.
func (l *Link) Sent() []wire.Message {
	if len(l.p.out) == 0 {
		return nil // most calls: a simulator asks every link after every event
	}
	var out []wire.Message
	for {
		select {
		case m := <-l.p.out:
			l.p.limits.expect(m, l.s.now())
			out = append(out, m)
		default:
			return out
		}
	}
}

// Close drops the peer, as a closed connection does.
func (l *Link) Close() {
	if l.p.closing() && !l.s.attached(l.p) {
		return
	}
	l.s.drop(l.p)
}

// Closed reports whether the server closed the link (a misbehaving or
// stalled peer): the caller closes its end with Close.
func (l *Link) Closed() bool { return l.p.closing() }

// Ready reports whether the link's handshake is done.
func (l *Link) Ready() bool { return l.p.ready() }

// attached reports whether p is still one of the server's peers.
func (s *Server) attached(p *peer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peers.has(p)
}

// Ping pings every peer, as the TCP driver does every PingInterval.
func (s *Server) Ping() { s.pingAll() }

// ConsensusRound compares every peer's tip with ours, as the TCP driver
// does every ConsensusInterval.
func (s *Server) ConsensusRound() { s.consensusRound() }

// NewTip announces our new tip to every peer and retries the orphans, as
// the TCP driver does on each tip the chain reports.
func (s *Server) NewTip(t chain.Tip) { s.newTip(t) }

// Admitted announces transactions the mempool admitted, in order, as the
// TCP driver does with each batch the mempool reports.
func (s *Server) Admitted(txs []*chain.Tx) { s.announceAdmitted(txs) }

// Trickle announces transactions to the peers whose announcement timers
// have fired, as the TCP driver does when each fires, and returns when to
// call it again (0: nothing waits). Call it after each call that may admit
// transactions too.
func (s *Server) Trickle() time.Duration { return s.trickle() }

// Offer keeps a transaction that came from outside the peers (a wallet
// sending through this node) and that the mempool refused for a nonce gap
// with the orphans, until the transaction before it is admitted.
func (s *Server) Offer(tx *chain.Tx) { s.keepOrphan(tx) }

// Download connects the blocks a sync has downloaded and asks peers for
// more, as the TCP driver's download loop does. While a download is under
// way it returns when to call it again though nothing arrives (a stall to
// check, a partial run to wait for); with none, 0. Call it after each
// delivery too.
func (s *Server) Download(ctx context.Context) time.Duration {
	d := s.dl
	if !d.pending() {
		return 0 // most calls: nothing of a branch left to fetch or connect
	}
	for {
		run, wait := d.take(d.now())
		if run == nil {
			s.checkStalls()
			s.fill()
			switch {
			case !d.pending():
				return 0
			case wait > 0:
				return min(wait, stallCheck)
			}
			return stallCheck
		}
		if !s.connectRun(ctx, run) {
			return stallCheck // the store failed: try again later
		}
		s.fill()
	}
}
