package p2p

import (
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// Pings check that peers are alive and carry each side's tip, which is how
// a node learns who is ahead and who agrees with it.

// pingAll sends every ready peer a ping with a fresh nonce and our tip,
// but a peer pinged less than half a ping interval ago: the ping timer and
// the consensus round fire together every round, and a second ping at once
// would tell nothing new and replace the first one's nonce, so that its
// pong could not be timed.
func (s *Server) pingAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	tip := s.tipInfo()
	now := s.now()
	for p := range s.peers.all() {
		if !p.ready() {
			continue
		}
		p.mu.Lock()
		if !p.pingSent.IsZero() && now.Sub(p.pingSent) < s.cfg.PingInterval/2 {
			p.mu.Unlock()
			continue
		}
		nonce := s.random64()
		p.pingNonce, p.pingSent = nonce, now
		p.mu.Unlock()
		p.send(&wire.MsgPing{Nonce: nonce, Tip: tip})
	}
}

// onPing answers with our tip and takes the peer's.
func (s *Server) onPing(p *peer, m *wire.MsgPing) {
	p.setTip(m.Tip)
	p.answer(&wire.MsgPong{MsgPing: wire.MsgPing{Nonce: m.Nonce, Tip: s.tipInfo()}})
	s.maybeSync(p)
}

// onPong times the round trip of our last ping and takes the peer's tip.
func (s *Server) onPong(p *peer, m *wire.MsgPong) {
	p.mu.Lock()
	if m.Nonce == p.pingNonce && !p.pingSent.IsZero() {
		p.rtt = s.now().Sub(p.pingSent)
	}
	p.mu.Unlock()
	p.setTip(m.Tip)
	s.maybeSync(p)
}

// consensusRound asks every peer for its tip (the pongs move us to a peer
// with more work) and reports how many share ours.
func (s *Server) consensusRound() {
	s.pingAll()
	agree, total := s.Agreement()
	s.log.Info("consensus round", "height", s.chain.Tip().Height, "agree", agree, "peers", total)
}

// Agreement returns how many ready peers have our tip, and how many are ready.
func (s *Server) Agreement() (agree, total int) { return s.AgreementAt(s.chain.Tip().Hash) }

// AgreementAt is Agreement against tip: a status that shows a height
// reads the agreement at the same tip, not at one that came since.
func (s *Server) AgreementAt(tip chain.Hash) (agree, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.peers.all() {
		if !p.ready() {
			continue
		}
		total++
		if p.tipInfo().Hash == tip {
			agree++
		}
	}
	return agree, total
}
