package p2p

import (
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
)

func TestOtherNetworkDisconnected(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())

	// Same magic, other genesis: the version says so, and the peer goes
	// without a ban, since a peer on another network broke no rule.
	r := dialRaw(t, a.addr, "127.0.0.1")
	r.send(rawVersion(chain.Devnet))
	if closed, after := r.closed(3 * time.Second); !closed {
		t.Fatalf("a version with the devnet genesis: still connected after %s", after)
	}
	if a.banned("127.0.0.1") {
		t.Errorf("a peer on another network was banned")
	}

	// A real devnet node: its frames carry devnet's magic, so neither side
	// ever reads the other's version.
	dch, _ := openChain(t, chain.Devnet, t.TempDir())
	cfg := testConfig()
	cfg.Connect = []string{a.addr}
	d := startNode(t, dch, nil, cfg)
	waitFor(t, 5*time.Second, "the devnet node's dial", func() bool { return a.accepts.Load() >= 2 })
	waitFor(t, 5*time.Second, "both sides to drop the connection", func() bool {
		a.mu.Lock()
		d.mu.Lock()
		defer a.mu.Unlock()
		defer d.mu.Unlock()
		return len(a.peers.list) == 0 && len(d.peers.list) == 0
	})
	if a.readyPeers() != 0 || d.readyPeers() != 0 {
		t.Errorf("a regtest and a devnet node completed a handshake")
	}
}

func TestSelfConnectionNotRedialled(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Connect = []string{selfAddr}
	a := startNode(t, newChain(t), nil, cfg)
	waitFor(t, 5*time.Second, "the self dial", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		st := a.addrs[a.addr]
		return st != nil && st.self
	})
	// A failed dial is retried after 2 s; a self address never is.
	time.Sleep(3 * time.Second)
	if n := a.accepts.Load(); n != 1 {
		t.Errorf("the node dialled itself %d times, want once", n)
	}
	if n := a.readyPeers(); n != 0 {
		t.Errorf("%d ready peers, want none", n)
	}
	for _, na := range a.goodAddrs() {
		if netAddrString(na) == a.addr {
			t.Errorf("the node shares its own address %s", a.addr)
		}
	}
}

// Either end of a self-connection may see our node ID first and close
// before the other reads a version, so the inbound end marks the address it
// was reached at as ours too. A raw peer plays the outbound end that never
// gets to read.
func TestSelfConnectionMarkedByInboundEnd(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	// Known, as gossip would make it, but not due for a dial yet.
	a.mu.Lock()
	a.addrs[a.addr] = &addrState{nextTry: time.Now().Add(time.Hour)}
	a.mu.Unlock()
	r := dialRaw(t, a.addr, "127.0.0.1")
	v := rawVersion(chain.Regtest)
	v.NodeID = a.nodeID
	r.send(v)
	if closed, after := r.closed(3 * time.Second); !closed {
		t.Fatalf("a peer with our node ID still connected after %s", after)
	}
	a.mu.Lock()
	self := a.addrs[a.addr].self
	a.mu.Unlock()
	if !self {
		t.Errorf("the address a self-connection reached us at is not marked as ours")
	}
	if a.banned("127.0.0.1") {
		t.Errorf("a self-connection banned the host")
	}
}
