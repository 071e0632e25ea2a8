package p2p

import (
	"iter"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/hashforge/hashforge/p2p/wire"
)

// The address book: the addresses a node knows, how they are learnt from
// peers and gossiped on, and which are worth sharing.

const (
	maxKnownAddr = 1000 // addresses remembered at most: an addr flood cannot grow memory
	maxAddrRelay = 10   // longest addr message that is passed on
	// addrRelayPeers is how many peers an address learnt from a peer is
	// passed on to, as Bitcoin does: enough that an announcement reaches
	// every node in a few hops, where passing it to every peer costs each
	// address a message on every link of the network (4.8 million addr
	// messages for a thousand nodes starting together, in the simulator).
	// The node a peer joined announces it to all its peers (onReady).
	addrRelayPeers = 2
)

// addrState is what the server knows of a peer address.
type addrState struct {
	pinned    bool // from -k: always retried
	self      bool // it is this node
	connected bool
	failures  int
	nextTry   time.Time
	// discouraged: it or its host was discouraged once, perhaps no longer
	// (discouragedAddr tells). The mark spares a check of every address
	// each time a full table makes room.
	discouraged bool
}

// learn adds a peer address; it reports whether the address is new.
func (s *Server) learn(addr string, pinned bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.addrs[addr]; ok {
		st.pinned = st.pinned || pinned
		return false
	}
	if len(s.addrs) >= maxKnownAddr && !s.evictAddr() {
		return false
	}
	s.addrs[addr] = &addrState{pinned: pinned, discouraged: s.isDiscouraged(addr)}
	return true
}

// discouragedAddr reports whether a known address is discouraged now; s.mu is held.
func (s *Server) discouragedAddr(addr string, st *addrState) bool {
	return st.discouraged && s.isDiscouraged(addr)
}

// evictAddr makes room in a full address table by forgetting an address
// that is not pinned, not ours and not in use: a discouraged one if there
// is one, else one that failed, so a flood of junk addresses cannot crowd
// out real peers. s.mu is held.
func (s *Server) evictAddr() bool {
	// Among the worst, the first address in order: not a map's order,
	// so that a simulated run repeats exactly.
	victim, worst := "", -1
	for addr, st := range s.addrs {
		if st.pinned || st.self || st.connected {
			continue
		}
		rank := 0
		switch {
		case s.discouragedAddr(addr, st):
			rank = 2
		case st.failures > 0:
			rank = 1
		}
		if rank > worst || rank == worst && addr < victim {
			victim, worst = addr, rank
		}
	}
	if victim == "" {
		return false
	}
	delete(s.addrs, victim)
	return true
}

// addrsSorted walks the address table in the addresses' order, not a
// map's, so that a simulated run repeats exactly; s.mu is held.
func (s *Server) addrsSorted() iter.Seq2[string, *addrState] {
	return func(yield func(string, *addrState) bool) {
		for _, addr := range slices.Sorted(maps.Keys(s.addrs)) {
			if !yield(addr, s.addrs[addr]) {
				return
			}
		}
	}
}

// goodAddrs lists addresses worth sharing: those of connected peers first,
// then known ones that neither failed nor are discouraged.
func (s *Server) goodAddrs() []wire.NetAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wire.NetAddr
	for p := range s.peers.all() {
		if _, listen, _ := p.identity(); len(out) < wire.MaxAddrs {
			if na, ok := toNetAddr(listen, s.now()); ok {
				out = append(out, na)
			}
		}
	}
	for addr, st := range s.addrsSorted() {
		if na, ok := toNetAddr(addr, s.now()); ok && !st.self && st.failures == 0 && !s.discouragedAddr(addr, st) && len(out) < wire.MaxAddrs {
			out = append(out, na)
		}
	}
	return out
}

// onAddr learns the addresses a peer tells of in its own network scope.
func (s *Server) onAddr(p *peer, m *wire.MsgAddr) {
	var fresh []wire.NetAddr
	for _, a := range m.Addrs {
		addr := netAddrString(a)
		if addr != "" && sameScope(p.addr, addr) && s.learn(addr, false) {
			fresh = append(fresh, a)
		}
	}
	// New addresses travel on, once, to a few peers: known ones stop
	// here, so gossip ends. Only announcements travel (a few addresses, as
	// onReady sends); a long list answers a getaddr and is for the asker
	// alone.
	if len(fresh) > 0 && len(m.Addrs) <= maxAddrRelay {
		s.relayAddrs(&wire.MsgAddr{Addrs: fresh}, p)
	}
}

// relayAddrs sends m to addrRelayPeers ready peers but from, drawn at
// random.
func (s *Server) relayAddrs(m *wire.MsgAddr, from *peer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var to []*peer
	for p := range s.peers.all() {
		if p != from && p.ready() {
			to = append(to, p)
		}
	}
	s.shuffle.Shuffle(len(to), func(i, j int) { to[i], to[j] = to[j], to[i] })
	for _, p := range to[:min(len(to), addrRelayPeers)] {
		p.send(m)
	}
}

// scope classes an address: a peer can only vouch for addresses in its own
// network scope. A loopback peer telling of internet hosts, or an internet
// peer telling of private ones, is either wrong or steering our dials; a
// local devnet must not be led to dial out at all.
func scope(addr string) int {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	switch {
	case err != nil || ip == nil:
		return -1
	case ip.IsLoopback():
		return 0
	case ip.IsPrivate() || ip.IsLinkLocalUnicast():
		return 1
	default:
		return 2
	}
}

// sameScope reports whether a peer at from may tell us of addr.
func sameScope(from, addr string) bool { return scope(from) >= 0 && scope(from) == scope(addr) }

// toNetAddr converts host:port; hosts must be IP literals.
func toNetAddr(addr string, seen time.Time) (wire.NetAddr, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return wire.NetAddr{}, false
	}
	ip := net.ParseIP(host)
	n, err := strconv.ParseUint(port, 10, 16)
	if ip == nil || err != nil || n == 0 {
		return wire.NetAddr{}, false
	}
	var na wire.NetAddr
	copy(na.IP[:], ip.To16())
	na.Port = uint16(n)
	na.LastSeen = seen.Unix()
	return na, true
}

func netAddrString(a wire.NetAddr) string {
	if a.Port == 0 {
		return ""
	}
	ip := net.IP(a.IP[:])
	if ip.IsUnspecified() {
		return ""
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(a.Port)))
}
