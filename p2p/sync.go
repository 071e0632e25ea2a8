package p2p

import (
	"context"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// Sync: headers first, then blocks, from one peer with more work at a time.

// syncStall is how long a sync peer may stay silent before another peer
// with more work may take its place.
const syncStall = 30 * time.Second

// peerAhead reports whether p has shown more work than our tip has.
func (s *Server) peerAhead(p *peer) bool {
	return p.tipInfo().WorkInt().Cmp(s.chain.Tip().Work) > 0
}

// maybeSync starts syncing from p when it shows more work than our tip and
// no other sync is under way (or the one under way stalled).
func (s *Server) maybeSync(p *peer) {
	if !s.peerAhead(p) {
		return
	}
	s.mu.Lock()
	// Every ping and pong of a peer with more work comes here. While the
	// sync peer still sends what we asked for, asking again would fetch the
	// same headers again, and each full answer asks for the next batch. A
	// getheaders lost to a full queue shows as a ping interval of silence.
	if s.syncPeer != nil {
		quiet := time.Since(s.syncSince)
		if s.syncPeer != p && quiet < syncStall || s.syncPeer == p && s.syncAsked && quiet < s.cfg.PingInterval {
			s.mu.Unlock()
			return
		}
	}
	s.syncPeer, s.syncSince, s.syncAsked = p, time.Now(), true
	s.mu.Unlock()
	p.send(&wire.MsgGetHeaders{Locator: s.locator(nil)})
}

// locator is our main chain's locator, led by extra (the last header a sync
// already asked blocks for), capped at wire.MaxLocator.
func (s *Server) locator(extra *chain.Hash) []chain.Hash {
	loc := s.chain.Locator()
	if extra != nil {
		loc = append([]chain.Hash{*extra}, loc...)
	}
	if len(loc) > wire.MaxLocator {
		loc = append(loc[:wire.MaxLocator-1], loc[len(loc)-1])
	}
	return loc
}

// onHeaders asks for the blocks we lack, in chain order; a full batch means
// the peer has more, so the next headers are asked for after the last.
func (s *Server) onHeaders(p *peer, m *wire.MsgHeaders) {
	var want []wire.InvItem
	for i := range m.Headers {
		if h := m.Headers[i].Hash(); !s.chain.Have(h) {
			want = append(want, wire.InvItem{Type: wire.InvBlock, Hash: h})
		}
	}
	full := len(m.Headers) == chain.MaxHeaders
	s.mu.Lock()
	if s.syncPeer == p {
		s.syncSince = time.Now()
		s.syncAsked = full // a full batch asks for the next below
	}
	s.mu.Unlock()
	if len(want) > 0 {
		p.send(wire.NewMsgGetData(want))
	}
	if full {
		last := m.Headers[len(m.Headers)-1].Hash()
		p.send(&wire.MsgGetHeaders{Locator: s.locator(&last)})
	} else if len(want) == 0 {
		s.mu.Lock()
		if s.syncPeer == p {
			s.syncPeer = nil
		}
		s.mu.Unlock()
	}
}

// noteTip records that p has our tip when h is it; agreement counts on it
// between pings.
func (s *Server) noteTip(p *peer, h chain.Hash) {
	tip := s.tipInfo()
	if tip.Hash != h {
		return
	}
	p.mu.Lock()
	// Never lower a peer's work: a block a peer sends us during a sync is an
	// ancestor of its tip, and taking it for the tip would end the sync.
	if tip.WorkInt().Cmp(p.tip.WorkInt()) >= 0 {
		p.tip = tip
	}
	p.mu.Unlock()
}

func (s *Server) onBlock(ctx context.Context, p *peer, b *chain.Block) {
	h := b.Hash()
	err := s.chain.ProcessBlock(ctx, b)
	s.noteTip(p, h)
	switch chain.Code(err) {
	case "":
		if err != nil {
			s.log.Error("process block from peer", "addr", p.addr, "err", err)
		}
	case chain.ErrDuplicateBlock, chain.ErrTimeTooNew:
		// Relays cross; clocks differ. Neither is the peer's fault.
	case chain.ErrOrphan:
		// The peer is on a chain we lack the start of: ask it where we part.
		p.send(&wire.MsgGetHeaders{Locator: s.locator(nil)})
	default:
		s.misbehave(p, banThreshold, err)
	}
	// A sync ends when we have caught up with its peer's work.
	caughtUp := !s.peerAhead(p)
	s.mu.Lock()
	if s.syncPeer == p {
		s.syncSince = time.Now()
		if caughtUp {
			s.syncPeer = nil
		}
	}
	s.mu.Unlock()
}
