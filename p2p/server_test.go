package p2p

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// These tests run real Servers on loopback with real chains on real stores.
// Well-behaved raw peers connect from 127.0.0.1, hostile ones from
// 127.0.0.2, so a ban (per host) shows on the hostile host alone while the
// server goes on serving the good one.

const hostileHost = "127.0.0.2"

// connect starts a node that dials to, with a fresh chain, and waits until
// both sides finished the handshake.
func connect(t *testing.T, to *node) *node {
	t.Helper()
	cfg := testConfig()
	cfg.Connect = []string{to.addr}
	n := startNode(t, newChain(t), nil, cfg)
	waitFor(t, 5*time.Second, "handshake", func() bool { return n.readyPeers() == 1 })
	return n
}

// waitTip waits until n's tip is want's tip.
func waitTip(t *testing.T, d time.Duration, n, want *node) {
	t.Helper()
	waitFor(t, d, fmt.Sprintf("tip %d of the peer", want.ch.Tip().Height), func() bool {
		return n.ch.Tip().Hash == want.ch.Tip().Hash
	})
}

// waitAgreement waits until every ready peer of each node has its tip.
func waitAgreement(t *testing.T, peers int, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		waitFor(t, 5*time.Second, fmt.Sprintf("agreement (%d, %d)", peers, peers), func() bool {
			agree, total := n.Agreement()
			return agree == peers && total == peers
		})
	}
}

func TestTwoNodesRelayBlocksAndAgree(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	b := connect(t, a)
	waitFor(t, 5*time.Second, "A sees B", func() bool { return a.readyPeers() == 1 })

	// Blocks found on either side reach the other by inv, getdata, block.
	mine(t, a.ch, 5)
	waitTip(t, 5*time.Second, b, a)
	mine(t, b.ch, 2)
	waitTip(t, 5*time.Second, a, b)
	if h := a.ch.Tip().Height; h != 7 {
		t.Fatalf("height %d, want 7", h)
	}
	waitAgreement(t, 1, a, b)

	tip := a.ch.Tip()
	for _, side := range []struct {
		n         *node
		direction string
		addr      string
	}{{a, "inbound", ""}, {b, "outbound", a.addr}} {
		var peers []PeerInfo
		// Ping times come with the first pong, one ping interval in.
		waitFor(t, 5*time.Second, "a pong", func() bool {
			peers = side.n.Peers()
			return len(peers) == 1 && peers[0].PingMS != nil
		})
		p := peers[0]
		if p.Direction != side.direction {
			t.Errorf("%s side: direction %q", side.direction, p.Direction)
		}
		if host, _, err := net.SplitHostPort(p.Addr); err != nil || host != "127.0.0.1" || side.addr != "" && p.Addr != side.addr {
			t.Errorf("%s side: addr %q, want %s", side.direction, p.Addr, side.addr)
		}
		if p.Height != tip.Height || p.Tip != tip.Hash.String() || p.Work != tip.Work.String() {
			t.Errorf("%s side: peer tip %d %s work %s, want %d %s work %s",
				side.direction, p.Height, p.Tip, p.Work, tip.Height, tip.Hash, tip.Work)
		}
		if age := time.Since(p.LastSeen); age < 0 || age > 2*time.Second {
			t.Errorf("%s side: last seen %s ago", side.direction, age)
		}
		if *p.PingMS < 0 || *p.PingMS > 1000 || p.BanScore != 0 {
			t.Errorf("%s side: ping %v ms, ban score %d", side.direction, *p.PingMS, p.BanScore)
		}
	}
}

// A node started empty catches up over more than one headers batch: the
// first answer is full, so it asks again after the last header. It asks
// once per batch: pings and pongs of a sync peer with more work do not ask
// again while the answer is on its way.
func TestSyncMoreThanOneHeadersBatch(t *testing.T) {
	t.Parallel()
	const blocks = chain.MaxHeaders + 100
	ach := newChain(t)
	start := time.Now()
	mine(t, ach, blocks)
	t.Logf("built %d blocks in %s", blocks, time.Since(start).Round(time.Millisecond))
	a := startNode(t, ach, nil, testConfig())
	px := startProxy(t, a.addr)

	start = time.Now()
	cfg := testConfig()
	cfg.Connect = []string{px.addr}
	b := startNode(t, newChain(t), nil, cfg)
	waitTip(t, 40*time.Second, b, a)
	took := time.Since(start)
	t.Logf("synced %d blocks in %s: %.0f blocks/s; %d getheaders, %d getdata",
		blocks, took.Round(time.Millisecond), blocks/took.Seconds(), px.count("getheaders"), px.count("getdata"))
	waitAgreement(t, 1, a, b)
	// One per batch, and one more whose answer finds nothing new.
	batches := blocks/chain.MaxHeaders + 1
	if n := px.count("getheaders"); n > batches+1 {
		t.Errorf("%d getheaders for %d batches of headers", n, batches)
	}
	if n := px.count("getdata"); n > batches {
		t.Errorf("%d getdata for %d batches of headers", n, batches)
	}
}

// Nodes on different branches end on the one with the most work, whichever
// side dialled: the locator finds where the branches part, and the node
// behind fetches the other branch and reorganises onto it.
func TestForkResolvesToMostWork(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		dialer, listener int // blocks each mines on its own branch
	}{
		{"dialer behind", 3, 6},
		{"dialer ahead", 6, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lch, dch := newChain(t), newChain(t)
			mineTo(t, lch, tt.listener, chain.Address{1})
			mineTo(t, dch, tt.dialer, chain.Address{2})
			l := startNode(t, lch, nil, testConfig())
			cfg := testConfig()
			cfg.Connect = []string{l.addr}
			d := startNode(t, dch, nil, cfg)
			ahead, behind := l, d
			if tt.dialer > tt.listener {
				ahead, behind = d, l
			}
			want := ahead.ch.Tip()
			waitTip(t, 5*time.Second, behind, ahead)
			if got := ahead.ch.Tip(); got.Hash != want.Hash {
				t.Errorf("the node with more work moved to %d %s", got.Height, got.Hash)
			}
			waitAgreement(t, 1, l, d)
		})
	}
}

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
		return len(a.peers) == 0 && len(d.peers) == 0
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

// Connect refuses what it cannot dial and a banned host, and dials the
// rest at once, as it does a -k peer.
func TestConnect(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	b := startNode(t, newChain(t), nil, testConfig())
	r := dialRaw(t, a.addr, hostileHost)
	r.write(wire.Frame(magic, "getblocks", nil))
	waitFor(t, 3*time.Second, "the hostile host banned", func() bool { return a.banned(hostileHost) })

	tests := []struct {
		name, addr string
		want       error
	}{
		{"empty", "", ErrBadAddress},
		{"no port", "127.0.0.1", ErrBadAddress},
		{"no host", ":8333", ErrBadAddress},
		{"port 0", "127.0.0.1:0", ErrBadAddress},
		{"port over 65535", "127.0.0.1:65536", ErrBadAddress},
		{"negative port", "127.0.0.1:-1", ErrBadAddress},
		{"port by name", "127.0.0.1:http", ErrBadAddress},
		{"banned host", hostileHost + ":8333", ErrBanned},
		{"banned host as IPv4-mapped IPv6", "[::ffff:" + hostileHost + "]:8333", ErrBanned},
	}
	for _, tt := range tests {
		if err := a.Connect(tt.addr); !errors.Is(err, tt.want) {
			t.Errorf("%s: Connect(%q) = %v, want %v", tt.name, tt.addr, err, tt.want)
		}
	}
	a.mu.Lock()
	known := len(a.addrs)
	a.mu.Unlock()
	if known != 0 {
		t.Errorf("refused addresses were remembered: %d known", known)
	}

	events, cancel := a.SubscribePeers()
	defer cancel()
	start := time.Now()
	if err := a.Connect(b.addr); err != nil {
		t.Fatalf("Connect(%s): %v", b.addr, err)
	}
	ev := nextEvent(t, events)
	if ev.Kind != "joined" || ev.Peer.Addr != b.addr || ev.Peer.Direction != "outbound" {
		t.Errorf("event %+v, want outbound %s joined", ev, b.addr)
	}
	// Dialled at the next dial round, every 500 ms: not after a backoff.
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("connected %s after Connect", took.Round(time.Millisecond))
	}
	a.mu.Lock()
	pinned := a.addrs[b.addr].pinned
	a.mu.Unlock()
	if !pinned {
		t.Errorf("an address given to Connect is not kept as a -k one")
	}
	if err := a.Connect(b.addr); err != nil {
		t.Errorf("Connect to a connected peer: %v", err)
	}

	// A stopped server only remembers.
	a.stop()
	c := startNode(t, newChain(t), nil, testConfig())
	if err := a.Connect(c.addr); err != nil {
		t.Errorf("Connect after Run: %v", err)
	}
	time.Sleep(time.Second)
	if n := c.accepts.Load(); n != 0 {
		t.Errorf("a stopped server dialled: %d connections", n)
	}
}

// Our own address, once a dial found it to be ours, is refused; the first
// time it is dialled and found out as any self-connection is.
func TestConnectSelf(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	if err := a.Connect(a.addr); err != nil {
		t.Fatalf("Connect to our own address, not yet known as ours: %v", err)
	}
	waitFor(t, 5*time.Second, "the self dial", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.addrs[a.addr].self
	})
	if err := a.Connect(a.addr); !errors.Is(err, ErrBadAddress) {
		t.Errorf("Connect to our own address: %v, want ErrBadAddress", err)
	}
	if n := a.readyPeers(); n != 0 {
		t.Errorf("%d ready peers, want none", n)
	}
}

// Peers that stop talking are dropped on a timer: before the handshake
// after HandshakeTimeout, after it when silent for IdleTimeout (the
// server's pings do not count: only what the peer sends does). Silence is
// not misbehaviour: the host is not banned.
func TestSilentPeerDropped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		handshake bool
		timeout   func(Config) time.Duration
	}{
		{"no version", false, func(c Config) time.Duration { return c.HandshakeTimeout }},
		{"silent after the handshake", true, func(c Config) time.Duration { return c.IdleTimeout }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			a := startNode(t, newChain(t), nil, cfg)
			r := dialRaw(t, a.addr, "127.0.0.1")
			if tt.handshake {
				r.handshake(rawVersion(chain.Regtest))
				waitFor(t, 2*time.Second, "ready", func() bool { return a.readyPeers() == 1 })
			}
			want := tt.timeout(cfg)
			closed, after := r.closed(want + 3*time.Second)
			if !closed {
				t.Fatalf("still connected after %s", after)
			}
			if after < want-250*time.Millisecond {
				t.Errorf("dropped after %s, before the %s timeout", after, want)
			}
			if a.banned("127.0.0.1") || refused(t, a.addr, "127.0.0.1") {
				t.Errorf("a silent peer's host was banned")
			}
		})
	}
}

func TestHostilePeer(t *testing.T) {
	t.Parallel()
	junk := make([]byte, 200)
	rand.Read(junk)
	junk[0] = ^magic[0]
	hugeBlock := wire.Frame(magic, "block", nil)
	hugeBlock[16], hugeBlock[17], hugeBlock[18], hugeBlock[19] = 0xff, 0xff, 0xff, 0xff
	badSum := frameOf(t, &wire.MsgPing{})
	badSum[23] ^= 0x80

	tests := []struct {
		name      string
		handshake bool
		act       func(t *testing.T, r *rawPeer, a *node)
		ban       bool
	}{
		// Bytes without our magic may be another network: dropped, not banned.
		{"random bytes", false, func(t *testing.T, r *rawPeer, a *node) { r.write(junk) }, false},
		// Only the header goes out: a server that waited for 4 GiB of
		// payload would hold the connection until its handshake timeout.
		{"frame announcing 4 GiB", false, func(t *testing.T, r *rawPeer, a *node) { r.write(hugeBlock) }, true},
		{"unknown command", true, func(t *testing.T, r *rawPeer, a *node) { r.write(wire.Frame(magic, "getblocks", nil)) }, true},
		{"bad checksum", true, func(t *testing.T, r *rawPeer, a *node) { r.write(badSum) }, true},
		{"addr over wire.MaxAddrs", true, func(t *testing.T, r *rawPeer, a *node) {
			r.write(wire.Frame(magic, "addr", binary.LittleEndian.AppendUint32(nil, wire.MaxAddrs+1)))
		}, true},
		{"block with bad proof of work", true, func(t *testing.T, r *rawPeer, a *node) {
			r.send(&wire.MsgBlock{Block: searchNonce(t, nextBlock(a.ch, chain.Address{}), false)})
		}, true},
		{"block with bad merkle root", true, func(t *testing.T, r *rawPeer, a *node) {
			b := nextBlock(a.ch, chain.Address{})
			b.Header.MerkleRoot[0] ^= 1
			r.send(&wire.MsgBlock{Block: searchNonce(t, b, true)})
		}, true},
		{"block with a wrong coinbase height", true, func(t *testing.T, r *rawPeer, a *node) {
			b := nextBlock(a.ch, chain.Address{})
			b.Txs[0].Height++
			b.Header.MerkleRoot = chain.MerkleRoot(b.TxHashes())
			r.send(&wire.MsgBlock{Block: searchNonce(t, b, true)})
		}, true},
		// A transaction that breaks a consensus rule, whatever the state.
		{"transaction with a bad signature", true, func(t *testing.T, r *rawPeer, a *node) {
			tx := transfer(0, chain.Coin, nil)
			tx.Amount++
			r.send(&wire.MsgTx{Tx: tx})
		}, true},
		{"transaction with a memo over MaxMemo", true, func(t *testing.T, r *rawPeer, a *node) {
			r.send(&wire.MsgTx{Tx: transfer(0, chain.Coin, make([]byte, chain.MaxMemo+1))})
		}, true},
		{"transaction over the money supply", true, func(t *testing.T, r *rawPeer, a *node) {
			r.send(&wire.MsgTx{Tx: transfer(0, chain.MaxMoney+1, nil)})
		}, true},
		{"coinbase as a transaction", true, func(t *testing.T, r *rawPeer, a *node) {
			r.send(&wire.MsgTx{Tx: chain.NewCoinbase(2, chain.Address{}, 50*chain.Coin, 0)})
		}, true},
		// Protocol slips a buggy peer makes: dropped, not banned.
		{"getdata before the handshake", false, func(t *testing.T, r *rawPeer, a *node) {
			r.send(wire.NewMsgGetData([]wire.InvItem{{Type: wire.InvBlock, Hash: a.ch.Tip().Hash}}))
		}, false},
		{"verack before version", false, func(t *testing.T, r *rawPeer, a *node) { r.send(&wire.MsgVerAck{}) }, false},
		{"second version", true, func(t *testing.T, r *rawPeer, a *node) { r.send(rawVersion(chain.Regtest)) }, false},
		{"second verack", true, func(t *testing.T, r *rawPeer, a *node) { r.send(&wire.MsgVerAck{}) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Long timers: a close within a second is the server's
			// answer to the message, not a timeout.
			cfg := testConfig()
			cfg.HandshakeTimeout, cfg.IdleTimeout = 10*time.Second, 10*time.Second
			a := startNode(t, newChain(t), nil, cfg)
			mine(t, a.ch, 1)
			r := dialRaw(t, a.addr, hostileHost)
			if tt.handshake {
				r.handshake(rawVersion(chain.Regtest))
			}
			tt.act(t, r, a)
			if closed, after := r.closed(3 * time.Second); !closed {
				t.Fatalf("still connected after %s", after)
			}
			wantBans := uint64(0)
			if tt.ban {
				wantBans = 1
			}
			if got := a.Bans(); got != wantBans {
				t.Errorf("Bans() = %d, want %d", got, wantBans)
			}
			if got := a.banned(hostileHost); got != tt.ban {
				t.Errorf("banned: %v, want %v", got, tt.ban)
			}
			if got := refused(t, a.addr, hostileHost); got != tt.ban {
				t.Errorf("a new connection from %s refused: %v, want %v", hostileHost, got, tt.ban)
			}
			// The server goes on serving other hosts.
			good := dialRaw(t, a.addr, "127.0.0.1")
			good.handshake(rawVersion(chain.Regtest))
			good.roundTrip()
			if a.ch.Tip().Height != 1 {
				t.Errorf("the chain moved to height %d", a.ch.Tip().Height)
			}
		})
	}
}

// Relays cross and orphans happen: a block we have, or one whose parent we
// lack, is no fault. The orphan's sender is asked where our chains part.
func TestHarmlessBlocksKeepPeer(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	mine(t, a.ch, 2)
	r := dialRaw(t, a.addr, hostileHost)
	r.handshake(rawVersion(chain.Regtest))

	tip, err := a.ch.Block(a.ch.Tip().Hash)
	if err != nil {
		t.Fatal(err)
	}
	r.send(&wire.MsgBlock{Block: tip})
	for _, m := range r.roundTrip() {
		if _, ok := m.(*wire.MsgInv); !ok {
			t.Errorf("a known block was answered with %s", m.Command())
		}
	}

	// An orphan: two blocks on our tip, the second sent alone.
	other := newChain(t)
	for _, h := range a.ch.HeadersAfter(nil, chain.Hash{}, 10) {
		b, err := a.ch.Block(h.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if err := other.ProcessBlock(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	mine(t, other, 2)
	orphan, err := other.Block(other.Tip().Hash)
	if err != nil {
		t.Fatal(err)
	}
	r.send(&wire.MsgBlock{Block: orphan})
	gh := await[*wire.MsgGetHeaders](r)
	if len(gh.Locator) == 0 || gh.Locator[0] != a.ch.Tip().Hash {
		t.Errorf("getheaders after an orphan: locator %v, want one led by our tip %s", gh.Locator, a.ch.Tip().Hash)
	}
	r.roundTrip()
	if a.banned(hostileHost) {
		t.Errorf("banned for a known block or an orphan")
	}
}

// A block a peer sends us is not its tip when the peer is ahead: during a
// sync every block is an ancestor of the tip it reported. Taking the block
// for its tip would count the peer as agreeing and end the sync after each
// block.
func TestBlockFromPeerAheadKeepsItsTip(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	ahead := newChain(t)
	mine(t, ahead, 10)
	first, err := ahead.Block(ahead.HeadersAfter(nil, chain.Hash{}, 1)[0].Hash())
	if err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, a.addr, "127.0.0.1")
	v := rawVersion(chain.Regtest)
	v.ListenPort = 18999 // where this inbound peer would take connections
	tip := ahead.Tip()
	v.Tip = wire.NewTipInfo(tip)
	r.handshake(v)
	r.send(&wire.MsgBlock{Block: first})
	// A barrier that, unlike a ping, carries no tip of ours.
	r.send(&wire.MsgGetHeaders{Locator: []chain.Hash{first.Hash()}})
	await[*wire.MsgHeaders](r)
	if a.ch.Tip().Hash != first.Hash() {
		t.Fatalf("the block from the peer did not become our tip")
	}
	peers := a.Peers()
	if len(peers) != 1 || peers[0].Height != 10 || peers[0].Tip != tip.Hash.String() {
		t.Fatalf("peer %+v, want it at its reported tip %d %s", peers, tip.Height, tip.Hash)
	}
	// An inbound peer shows where to dial it beside its socket's address.
	if peers[0].Listen != "127.0.0.1:18999" || peers[0].Addr == peers[0].Listen {
		t.Errorf("peer addr %q, listen %q: want the socket's address and 127.0.0.1:18999", peers[0].Addr, peers[0].Listen)
	}
	if agree, _ := a.Agreement(); agree != 0 {
		t.Errorf("a peer 9 blocks ahead counts as agreeing")
	}
}

// The requests a peer answers: headers after a locator, blocks and
// notfound for getdata, getdata for unknown inventory only, addresses, pong.
func TestRequestsAnswered(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	mine(t, a.ch, 5)
	main := a.ch.HeadersAfter(nil, chain.Hash{}, 100)
	if len(main) != 5 {
		t.Fatalf("%d headers after genesis, want 5", len(main))
	}
	r := dialRaw(t, a.addr, "127.0.0.1")
	r.handshake(rawVersion(chain.Regtest))
	genesis := chain.Regtest.GenesisHash()
	unknown := chain.Hash{0xde, 0xad}

	t.Run("getheaders", func(t *testing.T) {
		tests := []struct {
			name    string
			locator []chain.Hash
			stop    chain.Hash
			want    []chain.Header
		}{
			{"from genesis", []chain.Hash{genesis}, chain.Hash{}, main},
			{"unknown locator reads as genesis", []chain.Hash{unknown}, chain.Hash{}, main},
			{"first known hash wins", []chain.Hash{unknown, main[2].Hash(), main[0].Hash()}, chain.Hash{}, main[3:]},
			{"up to stop", []chain.Hash{genesis}, main[1].Hash(), main[:2]},
			{"at the tip", []chain.Hash{main[4].Hash()}, chain.Hash{}, nil},
		}
		for _, tt := range tests {
			r.send(&wire.MsgGetHeaders{Locator: tt.locator, Stop: tt.stop})
			if got := await[*wire.MsgHeaders](r).Headers; !slices.Equal(got, tt.want) {
				t.Errorf("%s: %d headers, want %d", tt.name, len(got), len(tt.want))
			}
		}
	})

	t.Run("getdata", func(t *testing.T) {
		r.send(wire.NewMsgGetData([]wire.InvItem{
			{Type: wire.InvBlock, Hash: main[1].Hash()}, {Type: wire.InvBlock, Hash: unknown}, {Type: 7, Hash: main[2].Hash()},
		}))
		if b := await[*wire.MsgBlock](r).Block; b.Hash() != main[1].Hash() {
			t.Errorf("getdata answered with block %s, want %s", b.Hash(), main[1].Hash())
		}
		nf := await[*wire.MsgNotFound](r)
		want := []wire.InvItem{{Type: wire.InvBlock, Hash: unknown}, {Type: 7, Hash: main[2].Hash()}}
		if !slices.Equal(nf.Items, want) {
			t.Errorf("notfound %v, want %v", nf.Items, want)
		}
	})

	t.Run("inv", func(t *testing.T) {
		r.send(wire.NewMsgInv([]wire.InvItem{{Type: wire.InvBlock, Hash: main[3].Hash()}, {Type: wire.InvBlock, Hash: unknown}, {Type: 7, Hash: chain.Hash{7}}}))
		gd := await[*wire.MsgGetData](r)
		if want := []wire.InvItem{{Type: wire.InvBlock, Hash: unknown}}; !slices.Equal(gd.Items, want) {
			t.Errorf("getdata %v, want only the unknown block %v", gd.Items, want)
		}
		r.send(wire.NewMsgInv([]wire.InvItem{{Type: wire.InvBlock, Hash: main[4].Hash()}}))
		for _, m := range r.roundTrip() {
			if m.Command() == "getdata" {
				t.Errorf("a known block was fetched")
			}
		}
	})

	t.Run("ping", func(t *testing.T) {
		r.send(&wire.MsgPing{Nonce: 77})
		p := await[*wire.MsgPong](r)
		if p.Nonce != 77 || p.Tip.Hash != main[4].Hash() || p.Tip.Height != 5 ||
			p.Tip.WorkInt().Cmp(a.ch.Tip().Work) != 0 {
			t.Errorf("pong %+v, want nonce 77 and our tip", p)
		}
	})

	t.Run("getaddr", func(t *testing.T) {
		a.learn("127.1.2.3:4567", false)
		r.send(&wire.MsgGetAddr{})
		var got []string
		for _, na := range await[*wire.MsgAddr](r).Addrs {
			got = append(got, netAddrString(na))
		}
		if !slices.Contains(got, "127.1.2.3:4567") {
			t.Errorf("addr %v lacks a known address", got)
		}
	})

	t.Run("new tip announced", func(t *testing.T) {
		mine(t, a.ch, 1)
		want := a.ch.Tip().Hash
		for {
			inv := await[*wire.MsgInv](r)
			if len(inv.Items) == 1 && inv.Items[0] == (wire.InvItem{Type: wire.InvBlock, Hash: want}) {
				break
			}
		}
	})
}

// New addresses travel on once; known ones stop, so gossip ends.
func TestAddrGossipForwardsOnce(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	x := dialRaw(t, a.addr, "127.0.0.1")
	x.handshake(rawVersion(chain.Regtest))
	y := dialRaw(t, a.addr, "127.0.0.1")
	y.handshake(rawVersion(chain.Regtest))
	waitFor(t, 2*time.Second, "both ready", func() bool { return a.readyPeers() == 2 })

	n1, _ := toNetAddr("127.1.0.1:1001")
	n2, _ := toNetAddr("[::ffff:127.1.0.2]:1002")
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
	// The good peer says nothing while the flood is handled, which under
	// the race detector on a loaded machine took over the 1 s idle limit.
	cfg := testConfig()
	cfg.IdleTimeout = 10 * time.Second
	a := startNode(t, newChain(t), nil, cfg)
	good := dialRaw(t, a.addr, "127.0.0.1")
	good.handshake(rawVersion(chain.Regtest))
	x := dialRaw(t, a.addr, hostileHost)
	x.handshake(rawVersion(chain.Regtest))

	const floods = 5
	for f := range floods {
		addrs := make([]wire.NetAddr, wire.MaxAddrs)
		for i := range addrs {
			// 127.1/16: dials fail at once, and no test listens there.
			addrs[i], _ = toNetAddr(fmt.Sprintf("127.1.%d.%d:%d", f, i/256, 1000+i%256))
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

// A node whose peer book holds A's address reconnects to A after a restart
// without being told to, and catches up with what A mined meanwhile.
func TestRestartReconnectsFromPeerBook(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	dir := t.TempDir()
	bch, bst := openChain(t, chain.Regtest, dir)
	cfg := testConfig()
	cfg.Connect = []string{a.addr}
	b := startNode(t, bch, bst, cfg)
	waitFor(t, 5*time.Second, "handshake", func() bool { return b.readyPeers() == 1 })
	// The book is written on the handshake of an outbound peer.
	waitFor(t, 2*time.Second, "A in the peer book", func() bool {
		book, err := bst.Peers()
		return err == nil && slices.Contains(book, a.addr)
	})
	b.stop()
	if err := bst.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "A to drop B", func() bool { return a.readyPeers() == 0 })
	mine(t, a.ch, 3)

	bch, bst = openChain(t, chain.Regtest, dir)
	b = startNode(t, bch, bst, testConfig())
	waitFor(t, 5*time.Second, "B to reconnect from its peer book", func() bool { return b.readyPeers() == 1 && a.readyPeers() == 1 })
	waitTip(t, 5*time.Second, b, a)
}

// Run returns promptly when its context ends, even while peers keep
// connecting: a connection accepted or dialled during shutdown must not
// start a peer that holds Run until its handshake timeout.
func TestShutdownWhileConnecting(t *testing.T) {
	t.Parallel()
	ch := newChain(t)
	cfg := testConfig()
	cfg.HandshakeTimeout = 10 * time.Second
	for i := range 50 {
		n := startNode(t, ch, nil, cfg)
		stop := make(chan struct{})
		conns := make(chan net.Conn, 10000)
		var dialers sync.WaitGroup
		for range 4 {
			dialers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					// Kept open: a peer the server starts on it waits for a version.
					if c, err := net.Dial("tcp", n.addr); err == nil {
						conns <- c
					}
				}
			})
		}
		time.Sleep(10 * time.Millisecond)
		start := time.Now()
		n.stop()
		took := time.Since(start)
		close(stop)
		dialers.Wait()
		close(conns)
		for c := range conns {
			c.Close()
		}
		if took > 2*time.Second {
			t.Fatalf("round %d: Run returned %s after its context ended", i, took.Round(time.Millisecond))
		}
	}
}
