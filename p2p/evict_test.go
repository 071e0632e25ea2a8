package p2p

import (
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

func TestSelectEvictee(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	// peer is a candidate opened at minute age (a larger one is younger) in group g.
	peer := func(minute int, g string) evictCandidate {
		return evictCandidate{opened: t0.Add(time.Duration(minute) * time.Minute), group: g}
	}
	withRTT := func(c evictCandidate, ms int) evictCandidate { c.rtt = time.Duration(ms) * time.Millisecond; return c }
	withBlock := func(c evictCandidate, minute int) evictCandidate {
		c.lastBlock = t0.Add(time.Duration(minute) * time.Minute)
		return c
	}
	withScore := func(c evictCandidate, s int) evictCandidate { c.score = s; return c }

	tests := []struct {
		name string
		cs   []evictCandidate
		want int
	}{
		{"none", nil, -1},
		{"the youngest of one group", []evictCandidate{peer(1, "a"), peer(3, "a"), peer(2, "a")}, 1},
		{"the youngest of the largest group", []evictCandidate{
			peer(1, "a"), peer(2, "a"), peer(9, "b"), peer(3, "a"),
		}, 3},
		{"groups as large: the one whose youngest is youngest", []evictCandidate{
			peer(1, "a"), peer(5, "a"), peer(2, "b"), peer(6, "b"),
		}, 3},
		{"the most misbehaving, whatever its group", []evictCandidate{
			peer(1, "a"), peer(2, "a"), peer(3, "a"), withScore(peer(0, "b"), 20), withScore(peer(4, "c"), 10),
		}, 3},
		{"of those misbehaving as much, the youngest", []evictCandidate{
			withScore(peer(1, "a"), 20), withScore(peer(2, "b"), 20), peer(3, "a"),
		}, 1},
		{"the four fastest are protected, the youngest among them too", []evictCandidate{
			withRTT(peer(9, "a"), 10), withRTT(peer(2, "a"), 20), withRTT(peer(3, "a"), 30),
			withRTT(peer(4, "a"), 40), withRTT(peer(1, "a"), 50), withRTT(peer(0, "a"), 90),
		}, 4},
		{"every one protected by its round trip", []evictCandidate{
			withRTT(peer(1, "a"), 10), withRTT(peer(2, "a"), 20), withRTT(peer(3, "a"), 30), withRTT(peer(4, "a"), 40),
		}, -1},
		{"the four that brought blocks last are protected", []evictCandidate{
			withBlock(peer(1, "a"), 10), withBlock(peer(2, "a"), 20), withBlock(peer(3, "a"), 30),
			withBlock(peer(4, "a"), 40), withBlock(peer(5, "a"), 5), peer(0, "a"),
		}, 4},
		{"protection beats misbehaviour", []evictCandidate{
			withScore(withRTT(peer(5, "a"), 10), 50), peer(1, "a"),
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := selectEvictee(tt.cs); got != tt.want {
				t.Errorf("selectEvictee = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestNetGroup(t *testing.T) {
	t.Parallel()
	tests := []struct{ addr, want string }{
		{"203.0.113.7:8999", "203.0.0.0"},
		{"[::ffff:203.0.113.7]:8999", "203.0.0.0"},
		{"203.1.113.7:1", "203.1.0.0"},
		{"[2001:db8:1:2::1]:8999", "2001:db8::"},
		{"127.0.0.1:8999", "loopback"},
		{"127.0.0.2:1", "loopback"},
		{"[::1]:8999", "loopback"},
		{"example.com:1", "example.com"},
	}
	for _, tt := range tests {
		if got := netGroup(tt.addr); got != tt.want {
			t.Errorf("netGroup(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// A newcomer past the handshake evicts an inbound peer when the slots are
// full: the youngest, all being of one group and none protected.
func TestEvictsForNewcomer(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.MaxInbound = 2
	a := startNode(t, newChain(t), nil, cfg)
	old := dialReady(t, a.addr, "127.0.0.1")
	young := dialReady(t, a.addr, "127.0.0.1")
	waitFor(t, 2*time.Second, "two peers", func() bool { return a.readyPeers() == 2 })
	newcomer := dialReady(t, a.addr, "127.0.0.1")
	if closed, _ := young.closed(2 * time.Second); !closed {
		t.Fatalf("the youngest peer was not evicted")
	}
	newcomer.roundTrip()
	old.roundTrip()
	if n := a.readyPeers(); n != 2 {
		t.Errorf("%d ready peers, want 2", n)
	}
}

// Connections that never handshake do not take peer slots: with MaxPending
// of them held, and many more opened, a peer still joins, and those in the
// handshake stay within MaxPending.
func TestPendingKeptApart(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.MaxInbound, cfg.MaxPending = 2, 4
	cfg.HandshakeTimeout = 10 * time.Second
	a := startNode(t, newChain(t), nil, cfg)
	var held []*rawPeer
	for range 20 {
		held = append(held, dialRaw(t, a.addr, hostileHost))
	}
	waitFor(t, 2*time.Second, "20 connections accepted", func() bool { return a.accepts.Load() == 20 })
	closed := 0
	for _, r := range held {
		if ok, _ := r.closed(50 * time.Millisecond); ok {
			closed++
		}
	}
	if want := len(held) - cfg.MaxPending; closed != want {
		t.Errorf("%d of %d connections in their handshake closed, want %d", closed, len(held), want)
	}
	for i := range cfg.MaxInbound {
		r := dialReady(t, a.addr, "127.0.0.1")
		r.roundTrip()
		if n := a.readyPeers(); n != i+1 {
			t.Fatalf("%d ready peers, want %d", n, i+1)
		}
	}
	if a.banned(hostileHost) || a.Bans() != 0 {
		t.Errorf("connections that never handshook were punished: %v", a.Banned())
	}
}

// Misbehaviour discourages a host beyond loopback; while inbound slots are
// free it may still connect, but not to take the last one. The test
// discourages a loopback host by hand, as if it were remote.
func TestDiscouragedHostRefusedWhenScarce(t *testing.T) {
	t.Parallel()
	cfg := quietConfig()
	cfg.MaxInbound = 3
	a := startNode(t, newChain(t), nil, cfg)
	a.mu.Lock()
	a.discourage(hostileHost, "test")
	a.mu.Unlock()
	for ready := range cfg.MaxInbound {
		scarce := ready+1 >= cfg.MaxInbound
		if got := refused(t, a.addr, hostileHost); got != scarce {
			t.Errorf("with %d of %d slots taken: refused %v, want %v", ready, cfg.MaxInbound, got, scarce)
		}
		dialReady(t, a.addr, "127.0.0.1").roundTrip()
	}
}

// A peer that brings new blocks is worth keeping: blockFrom notes a block
// new to us, not one we had.
func TestBlockFromNotesNewBlocks(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, quietConfig())
	r := dialReady(t, a.addr, "127.0.0.1")
	lastBlock := func() time.Time {
		a.mu.Lock()
		defer a.mu.Unlock()
		for p := range a.peers.all() {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.lastBlock
		}
		return time.Time{}
	}
	b := searchNonce(t, nextBlock(a.ch, chain.Address{}), true)
	for i, want := range []bool{true, false} {
		before := lastBlock()
		r.send(&wire.MsgBlock{Block: b})
		r.roundTrip()
		if got := lastBlock().After(before); got != want {
			t.Errorf("send %d: lastBlock moved %v, want %v", i, got, want)
		}
	}
}
