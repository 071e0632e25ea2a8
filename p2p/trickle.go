package p2p

import (
	"context"
	"slices"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// Transaction announcements trickle, as Bitcoin Core's do: what the pool
// admits waits in each peer's queue, and the queues go out, one inv a peer,
// when a timer fires at exponentially distributed intervals: one timer for
// the peers we dialled (Config.TxAnnounceInterval on average) and one for
// the peers that dialled us (inboundAnnounceFactor times as long: anyone can
// open many inbound connections, and one shared timer tells a spy no more
// than one connection would). Waiting costs a transaction a few seconds a
// hop and saves most announcements: while one waits to go to a peer, that
// peer often announces it to us, and then we never announce it back;
// several transactions share one inv; one a block confirmed meanwhile is not
// announced at all. Random times also keep a listener on many nodes from
// telling where a transaction started by the order announcements reach it.

const (
	// inboundAnnounceFactor stretches the interval for inbound peers
	// (Bitcoin Core: 2 s to outbound peers, 5 s to inbound ones).
	inboundAnnounceFactor = 2.5
	// maxQueuedInv bounds a peer's queue of transactions to announce: the
	// pool bounds what is pending, but a queue must not outgrow it between
	// two announcements.
	maxQueuedInv = maxKnownInv
)

// announceTimers are the two announcement timers, outbound and inbound
// ([inbound] indexes them); each is zero while no queue of its peers waits.
type announceTimers [2]time.Time

// queueTxs queues txids for every ready peer, or announces them at once when
// the interval is zero. The caller holds s.mu.
func (s *Server) queueTxs(ids []chain.Hash) {
	now := s.now()
	queued := false
	for p := range s.peers.all() {
		if !p.ready() {
			continue
		}
		if s.cfg.TxAnnounceInterval <= 0 {
			s.sendTxInvs(p, ids)
			continue
		}
		// A timer runs on whether or not anything waits: one whose queues
		// were empty when its time passed draws the next time now, which by
		// the exponential's lack of memory is the same as having drawn it
		// then.
		if at := &s.invAt[b2i(p.inbound)]; at.IsZero() {
			*at = now.Add(s.announceDelay(p.inbound))
		}
		p.mu.Lock()
		p.invTx = append(p.invTx, ids[:min(len(ids), maxQueuedInv-len(p.invTx))]...)
		p.mu.Unlock()
		queued = true
	}
	if queued {
		select {
		case s.invWake <- struct{}{}:
		default:
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// announceDelay draws the time to the next announcement to outbound or
// inbound peers. A draw is capped at five means (one in 150 draws), so that
// no transaction waits without bound. The caller holds s.mu.
func (s *Server) announceDelay(inbound bool) time.Duration {
	mean := float64(s.cfg.TxAnnounceInterval)
	if inbound {
		mean *= inboundAnnounceFactor
	}
	return time.Duration(min(s.shuffle.ExpFloat64(), 5) * mean)
}

// trickle announces to the peers of each timer that has fired what waits
// for them, less what a peer has seen and what the pool no longer holds.
// It returns how long until the next timer fires; 0 when none is set.
func (s *Server) trickle() time.Duration {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var fired [2]bool
	for i, at := range s.invAt {
		if !at.IsZero() && !at.After(now) {
			fired[i], s.invAt[i] = true, time.Time{}
		}
	}
	if fired[0] || fired[1] {
		for p := range s.peers.all() {
			if !fired[b2i(p.inbound)] {
				continue
			}
			p.mu.Lock()
			ids := p.invTx
			p.invTx = nil
			p.mu.Unlock()
			s.sendTxInvs(p, slices.DeleteFunc(ids, func(id chain.Hash) bool { return !s.pool.Has(id) }))
		}
	}
	var wait time.Duration
	for _, at := range s.invAt {
		if w := at.Sub(now); !at.IsZero() && (wait == 0 || w < wait) {
			wait = w
		}
	}
	return wait
}

// sendTxInvs announces to p, in as few invs as the limit allows, the txids
// it has not seen.
func (s *Server) sendTxInvs(p *peer, ids []chain.Hash) {
	for _, inv := range txInvs(p.seen(ids...)) {
		p.send(inv)
	}
}

// trickleLoop is the TCP driver's announcement timers: it wakes when one
// fires, or when a queue that was empty fills.
func (s *Server) trickleLoop(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		var due <-chan time.Time
		t.Stop()
		if wait := s.trickle(); wait > 0 {
			t.Reset(wait)
			due = t.C
		}
		select {
		case <-ctx.Done():
			return
		case <-s.invWake:
		case <-due:
		}
	}
}
