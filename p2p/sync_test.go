package p2p

import (
	"context"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// A node started empty catches up over more than one headers batch: the
// first answer is full, so it asks again after the last header. It asks
// once per batch: pings and pongs of a sync peer with more work do not ask
// again while the answer is on its way. Each block is asked for once.
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
	if n := px.countBack("block"); n != blocks {
		t.Errorf("%d blocks sent for a chain of %d", n, blocks)
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

// Relays cross and orphans happen: a block we have, or one whose parent we
// lack, is no fault. The orphan's sender is asked where our chains part.
func TestHarmlessBlocksKeepPeer(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	mine(t, a.ch, 2)
	r := dialReady(t, a.addr, hostileHost)

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
