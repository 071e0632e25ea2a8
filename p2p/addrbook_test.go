package p2p

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashforge/hashforge/p2p/wire"
)

func TestNetAddrConversion(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
		back string // "" when the address is not shared
	}{
		{"127.0.0.1:18999", true, "127.0.0.1:18999"},
		{"[::1]:8999", true, "[::1]:8999"},
		{"[2001:db8::7]:1", true, "[2001:db8::7]:1"},
		{"localhost:8999", false, ""},  // only IP literals travel
		{"127.0.0.1:0", false, ""},     // port 0 does not listen
		{"127.0.0.1:65536", false, ""}, // not a port
		{"127.0.0.1", false, ""},       // no port
		{"0.0.0.0:8999", true, ""},     // converts, but nobody can dial it
		{"[::]:8999", true, ""},        // likewise
		{"10.1.2.3:65535", true, "10.1.2.3:65535"},
	}
	for _, tt := range tests {
		na, ok := toNetAddr(tt.addr, time.Now())
		if ok != tt.ok {
			t.Errorf("toNetAddr(%q, time.Now()) ok = %v, want %v", tt.addr, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if got := netAddrString(na); got != tt.back {
			t.Errorf("netAddrString(toNetAddr(%q)) = %q, want %q", tt.addr, got, tt.back)
		}
	}
}

// New addresses travel on once; known ones stop, so gossip ends.
func TestAddrGossipForwardsOnce(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	x := dialReady(t, a.addr, "127.0.0.1")
	y := dialReady(t, a.addr, "127.0.0.1")
	waitFor(t, 2*time.Second, "both ready", func() bool { return a.readyPeers() == 2 })

	n1, _ := toNetAddr("127.1.0.1:1001", time.Now())
	n2, _ := toNetAddr("[::ffff:127.1.0.2]:1002", time.Now())
	x.send(&wire.MsgAddr{Addrs: []wire.NetAddr{n1, n2}})
	got := await[*wire.MsgAddr](y)
	if len(got.Addrs) != 2 || netAddrString(got.Addrs[0]) != "127.1.0.1:1001" || netAddrString(got.Addrs[1]) != "127.1.0.2:1002" {
		t.Fatalf("forwarded %+v, want the two new addresses", got.Addrs)
	}

	// Again, and back from y: nothing is new, nothing travels.
	x.send(&wire.MsgAddr{Addrs: []wire.NetAddr{n1, n2}})
	y.send(&wire.MsgAddr{Addrs: []wire.NetAddr{n1}})
	x.roundTrip()
	for _, r := range []*rawPeer{x, y} {
		for _, m := range r.roundTrip() {
			if m.Command() == "addr" {
				t.Errorf("known addresses forwarded again: %+v", m)
			}
		}
	}
}

// An addr flood cannot grow memory: the server remembers maxKnownAddr
// addresses at most and forwards each new one once.
func TestAddrFloodBounded(t *testing.T) {
	t.Parallel()
	// The good peer says nothing while the flood is handled.
	a := startNode(t, newChain(t), nil, patientConfig())
	good := dialReady(t, a.addr, "127.0.0.1")
	x := dialReady(t, a.addr, hostileHost)

	const floods = 5
	for f := range floods {
		addrs := make([]wire.NetAddr, wire.MaxAddrs)
		for i := range addrs {
			// 127.1/16: dials fail at once, and no test listens there.
			addrs[i], _ = toNetAddr(fmt.Sprintf("127.1.%d.%d:%d", f, i/256, 1000+i%256), time.Now())
		}
		x.send(&wire.MsgAddr{Addrs: addrs})
	}
	x.roundTrip()
	a.mu.Lock()
	known := len(a.addrs)
	a.mu.Unlock()
	if known > maxKnownAddr {
		t.Errorf("%d addresses known after a flood of %d, limit %d", known, floods*wire.MaxAddrs, maxKnownAddr)
	}
	seen := make(map[string]bool)
	for _, m := range good.roundTrip() {
		if m, ok := m.(*wire.MsgAddr); ok {
			for _, na := range m.Addrs {
				s := netAddrString(na)
				if seen[s] {
					t.Errorf("%s forwarded twice", s)
				}
				seen[s] = true
			}
		}
	}
	if len(seen) > maxKnownAddr {
		t.Errorf("%d addresses forwarded, more than the %d known", len(seen), maxKnownAddr)
	}
	t.Logf("known %d, forwarded %d", known, len(seen))
	if a.banned(hostileHost) {
		t.Errorf("addr messages within the limits got the sender banned")
	}
}

// Three nodes: C learns B's address through A and connects to it, and a
// block found on C reaches B.
func TestAddressGossipMeshes(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	b := connect(t, a)
	c := connect(t, a)
	waitFor(t, 10*time.Second, "B and C connected through gossip", func() bool {
		return b.readyPeers() == 2 && c.readyPeers() == 2
	})
	mine(t, c.ch, 3)
	waitTip(t, 5*time.Second, a, c)
	waitTip(t, 5*time.Second, b, c)
	waitAgreement(t, 2, a, b, c)
}
