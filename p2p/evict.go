package p2p

import (
	"cmp"
	"context"
	"errors"
	"net"
	"slices"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// Slots. Connections still in their handshake are kept apart from peer
// slots, MaxPending of them at most, so connections that never handshake
// cannot keep peers out. A peer past the handshake takes an inbound slot;
// when all are taken it evicts the worst inbound peer, as bitcoind does,
// rather than every newcomer being refused.

const (
	protectByPing  = 4 // the peers with the shortest round trips are never evicted
	protectByBlock = 4 // nor those that brought us a new block last
)

// screen decides on a new inbound connection from host before anything is
// read from it. It closes a connection in its handshake when MaxPending are.
func (s *Server) screen(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.MaxInbound <= 0 || s.hostBanned(host) {
		return false
	}
	// As bitcoind: a discouraged host is refused only when it would take
	// the last slot or need an eviction; while slots are free it may come.
	if s.isDiscouraged(host) && s.countReady(true)+1 >= s.cfg.MaxInbound {
		return false
	}
	if victim := s.pendingVictim(); victim != nil {
		victim.close()
	}
	return true
}

// pendingVictim is, when MaxPending inbound connections are in their
// handshake, the one to close for a newcomer: the oldest of the host with
// the most. An honest peer handshakes within a round trip or two, so the
// oldest has had its chance, and a host opening connections by the hundred
// closes only its own. nil while there is room; s.mu is held.
func (s *Server) pendingVictim() *peer {
	byHost := make(map[string][]*peer)
	n := 0
	for p := range s.peers.all() {
		if p.inbound && !p.ready() && !p.closing() {
			host, _, _ := net.SplitHostPort(p.addr)
			byHost[host] = append(byHost[host], p)
			n++
		}
	}
	var most []*peer
	for _, ps := range byHost {
		if len(ps) > len(most) {
			most = ps
		}
	}
	if n < s.cfg.MaxPending || len(most) == 0 {
		return nil
	}
	return slices.MinFunc(most, func(a, b *peer) int { return a.opened.Compare(b.opened) })
}

// countReady counts the ready peers of one direction that hold a slot;
// s.mu is held.
func (s *Server) countReady(inbound bool) int {
	n := 0
	for p := range s.peers.all() {
		if p.inbound == inbound && p.ready() && !p.closing() {
			n++
		}
	}
	return n
}

// takeSlot makes p ready. An inbound peer needs a slot: with all taken,
// the worst inbound peer is evicted for it, and with none to evict p is
// refused.
func (s *Server) takeSlot(p *peer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.inbound && s.countReady(true) >= s.cfg.MaxInbound {
		victim := s.evictee()
		if victim == nil {
			return errors.New("inbound slots full, every peer in them protected")
		}
		s.log.Info("peer evicted", "addr", victim.addr, "for", p.addr)
		victim.close()
	}
	p.mu.Lock()
	p.verAcked = true
	p.mu.Unlock()
	return nil
}

// evictCandidate is what eviction weighs of a ready inbound peer.
type evictCandidate struct {
	opened    time.Time
	rtt       time.Duration // 0 until a pong came back
	lastBlock time.Time     // zero if it never brought a new block
	group     string        // netGroup
	score     int           // misbehaviour; banThreshold more from a discouraged address
}

// evictee is the inbound peer to evict for a newcomer, nil if every one is
// protected; s.mu is held. -k peers that dialled us are never evicted.
func (s *Server) evictee() *peer {
	var ps []*peer
	var cs []evictCandidate
	for p := range s.peers.all() {
		if !p.inbound || !p.ready() || p.closing() {
			continue
		}
		p.mu.Lock()
		listen := p.listenAddr
		c := evictCandidate{opened: p.opened, rtt: p.rtt, lastBlock: p.lastBlock, group: netGroup(p.addr), score: p.banScore}
		p.mu.Unlock()
		if s.pinned(listen) {
			continue
		}
		if s.isDiscouraged(p.addr) || s.isDiscouraged(listen) {
			c.score += banThreshold
		}
		ps, cs = append(ps, p), append(cs, c)
	}
	if i := selectEvictee(cs); i >= 0 {
		return ps[i]
	}
	return nil
}

// selectEvictee returns the index of the candidate to evict, -1 if every
// one is protected. bitcoind's rules, simplified: the peers with the
// shortest round trips and those that brought new blocks last are
// protected, as an attacker can fake neither cheaply; of the rest, the
// youngest of those misbehaving most, or, if none misbehaved, the youngest
// of the address group with the most peers (an attacker has few groups).
func selectEvictee(cs []evictCandidate) int {
	left := make([]int, len(cs))
	for i := range left {
		left[i] = i
	}
	left = spare(left, protectByPing, func(i int) bool { return cs[i].rtt > 0 },
		func(a, b int) int { return cmp.Compare(cs[a].rtt, cs[b].rtt) })
	left = spare(left, protectByBlock, func(i int) bool { return !cs[i].lastBlock.IsZero() },
		func(a, b int) int { return cs[b].lastBlock.Compare(cs[a].lastBlock) })
	if len(left) == 0 {
		return -1
	}
	worst := slices.MaxFunc(left, func(a, b int) int { return cs[a].score - cs[b].score })
	if cs[worst].score > 0 {
		left = slices.DeleteFunc(left, func(i int) bool { return cs[i].score < cs[worst].score })
	} else {
		g := mostRepresented(cs, left)
		left = slices.DeleteFunc(left, func(i int) bool { return cs[i].group != g })
	}
	return slices.MaxFunc(left, func(a, b int) int { return cs[a].opened.Compare(cs[b].opened) })
}

// spare takes out of left the first n of those ok holds for, in order.
func spare(left []int, n int, ok func(i int) bool, order func(a, b int) int) []int {
	var protect []int
	for _, i := range left {
		if ok(i) {
			protect = append(protect, i)
		}
	}
	slices.SortFunc(protect, order)
	protect = protect[:min(n, len(protect))]
	return slices.DeleteFunc(left, func(i int) bool { return slices.Contains(protect, i) })
}

// mostRepresented is the group of the most candidates among left; of
// groups as large, the one whose youngest peer is youngest, as bitcoind
// picks.
func mostRepresented(cs []evictCandidate, left []int) string {
	count := make(map[string]int)
	youngest := make(map[string]time.Time)
	for _, i := range left {
		g := cs[i].group
		count[g]++
		if cs[i].opened.After(youngest[g]) {
			youngest[g] = cs[i].opened
		}
	}
	best := cs[left[0]].group
	for g, n := range count {
		if n > count[best] || n == count[best] && youngest[g].After(youngest[best]) {
			best = g
		}
	}
	return best
}

// netGroup is the network of an address, as far as one operator may hold
// many addresses in it: the /16 of IPv4, the /32 of IPv6, and one group for
// the machine's own loopback.
func netGroup(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		return host
	case ip.IsLoopback():
		return "loopback"
	case ip.To4() != nil:
		return ip.Mask(net.CIDRMask(16, 32)).String()
	default:
		return ip.Mask(net.CIDRMask(32, 128)).String()
	}
}

// blockFrom hands a peer's block to onBlock and notes when the peer
// brought a block new to us: eviction protects the peers that do.
func (s *Server) blockFrom(ctx context.Context, p *peer, b *chain.Block) {
	h := b.Hash()
	fresh := !s.chain.Have(h)
	s.onBlock(ctx, p, b)
	if fresh && s.chain.Have(h) {
		p.mu.Lock()
		p.lastBlock = s.now()
		p.mu.Unlock()
	}
}
