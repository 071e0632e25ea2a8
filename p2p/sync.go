package p2p

import (
	"context"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// Sync: headers first, from one peer with more work at a time, each batch
// checked as it comes; the blocks of the checked headers from every peer
// that has them (download.go).

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
	downloading := s.dl.pending()
	s.mu.Lock()
	// Every ping and pong of a peer with more work comes here. While the
	// sync peer still sends what we asked for, headers or blocks, asking
	// again would fetch the same headers again, and each full answer asks
	// for the next batch. A getheaders lost to a full queue shows as a
	// ping interval of silence.
	if s.syncPeer != nil {
		quiet := s.now().Sub(s.syncSince)
		if s.syncPeer != p && quiet < syncStall || s.syncPeer == p && (s.syncAsked || downloading) && quiet < s.cfg.PingInterval {
			s.mu.Unlock()
			return
		}
	}
	s.syncPeer, s.syncSince, s.syncAsked = p, s.now(), true
	s.mu.Unlock()
	// Past the headers checked so far: a new sync peer on the same branch
	// goes on where the last one stopped.
	p.send(&wire.MsgGetHeaders{Locator: s.locator(s.dl.lastHeader())})
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

// onHeaders checks the headers and asks for their blocks; a full batch
// means the peer has more, so the next headers are asked for after the last
// at once, while the blocks download.
func (s *Server) onHeaders(p *peer, m *wire.MsgHeaders) {
	err := s.addHeaders(p, m.Headers)
	switch chain.Code(err) {
	case "", chain.ErrTimeTooNew:
		// Clocks differ: the headers before the one too new are taken.
	case chain.ErrOrphan:
		// Headers we did not ask for, on a chain we lack the start of.
		return
	default:
		s.misbehave(p, banThreshold, err)
		return
	}
	full := err == nil && len(m.Headers) == chain.MaxHeaders
	s.mu.Lock()
	if s.syncPeer == p {
		s.syncSince = s.now()
		s.syncAsked = full // a full batch asks for the next below
	}
	s.mu.Unlock()
	s.fill()
	if full {
		last := m.Headers[len(m.Headers)-1].Hash()
		p.send(&wire.MsgGetHeaders{Locator: s.locator(&last)})
	} else if !s.dl.pending() {
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

// onBlock takes a block a peer sent: one the download asked for joins its
// run; any other (a relayed tip, an answer to an announcement) goes
// through the chain at once.
func (s *Server) onBlock(ctx context.Context, p *peer, b *chain.Block) {
	if taken, room := s.dl.deliver(p, b); taken {
		if room {
			s.fill()
		}
		return
	}
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
	s.syncProgress()
}

// syncProgress notes that blocks came in: the sync peer is not stalling,
// and the sync ends once we have caught up with its work.
func (s *Server) syncProgress() {
	s.mu.Lock()
	p := s.syncPeer
	s.mu.Unlock()
	if p == nil {
		return
	}
	caughtUp := !s.peerAhead(p)
	s.mu.Lock()
	if s.syncPeer == p {
		s.syncSince = s.now()
		if caughtUp {
			s.syncPeer = nil
		}
	}
	s.mu.Unlock()
}
