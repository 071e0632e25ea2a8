package p2p

import (
	"flag"
	"syscall"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/p2p/wire"
	"github.com/hashforge/hashforge/store"
)

// setStall changes how long a peer may hold blocks back.
func (d *download) setStall(v time.Duration) {
	d.mu.Lock()
	d.stall = v
	d.mu.Unlock()
}

// startSyncing starts an empty node joined to addrs, with the stall time
// given, and returns it with its store.
func startSyncing(t *testing.T, stall time.Duration, addrs ...string) (*node, *store.Store) {
	t.Helper()
	cfg := testConfig()
	cfg.Connect = addrs
	ch, st := openChain(t, chain.Regtest, t.TempDir())
	n := startNode(t, ch, nil, cfg)
	n.dl.setStall(stall)
	return n, st
}

// waitSynced waits until n, whose store is st, has src's tip, and checks
// that the store verifies.
func waitSynced(t *testing.T, n *node, st *store.Store, src *node) {
	t.Helper()
	start := time.Now()
	waitTip(t, 60*time.Second, n, src)
	took := time.Since(start)
	t.Logf("synced %d blocks in %s: %.0f blocks/s", src.ch.Tip().Height, took.Round(time.Millisecond), float64(src.ch.Tip().Height)/took.Seconds())
	if _, err := chain.Verify(t.Context(), chain.Regtest, st, nil); err != nil {
		t.Errorf("the synced store does not verify: %v", err)
	}
}

// A node syncing from three peers with the same chain asks each of them
// for blocks, and each block of one of them only.
func TestSyncFromSeveralPeers(t *testing.T) {
	t.Parallel()
	const blocks = 3*chain.MaxHeaders + 500
	a := newChain(t)
	chaintest.Extend(t, a, blocks, chain.Address{})
	var srcs []*node
	var pxs []*proxy
	var addrs []string
	for i := range 3 {
		ch := a
		if i > 0 {
			ch = copyChain(t, a)
		}
		srcs = append(srcs, startNode(t, ch, nil, testConfig()))
		pxs = append(pxs, startProxy(t, srcs[i].addr))
		addrs = append(addrs, pxs[i].addr)
	}
	n, st := startSyncing(t, blockStall, addrs...)
	waitSynced(t, n, st, srcs[0])
	total := 0
	for i, px := range pxs {
		n := px.countBack("block")
		t.Logf("peer %d sent %d blocks in answer to %d getdata", i, n, px.count("getdata"))
		if n == 0 {
			t.Errorf("peer %d sent no blocks", i)
		}
		total += n
	}
	if total != blocks {
		t.Errorf("%d blocks sent for a chain of %d", total, blocks)
	}
}

// A peer that withholds the blocks asked of it, silently or with a
// notfound, stalls no sync: once another peer joins, it is asked for them,
// after the stall time or at the notfound.
func TestSyncAroundWithholdingPeer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stall  time.Duration
		filter func(wire.Message) wire.Message
	}{
		{"silent", 300 * time.Millisecond, func(m wire.Message) wire.Message {
			if _, ok := m.(*wire.MsgBlock); ok {
				return nil
			}
			return m
		}},
		// The stall time is longer than the test: only the notfound can
		// have the blocks asked of another peer.
		{"notfound", time.Hour, func(m wire.Message) wire.Message {
			if b, ok := m.(*wire.MsgBlock); ok {
				return wire.NewMsgNotFound([]wire.InvItem{{Type: wire.InvBlock, Hash: b.Block.Hash()}})
			}
			return m
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const blocks = chain.MaxHeaders + 500
			a := startNode(t, newChain(t), nil, testConfig())
			chaintest.Extend(t, a.ch, blocks, chain.Address{})
			b := startNode(t, copyChain(t, a.ch), nil, testConfig())
			withholding := startFilterProxy(t, b.addr, tt.filter)
			n, st := startSyncing(t, tt.stall, withholding.addr)
			waitFor(t, 10*time.Second, "blocks asked of the withholding peer", func() bool { return withholding.count("getdata") > 0 })
			if err := n.Connect(a.addr); err != nil {
				t.Fatal(err)
			}
			waitSynced(t, n, st, a)
		})
	}
}

var benchBlocks = flag.Int("sync.blocks", 20000, "chain length BenchmarkSync syncs")

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSync syncs an empty node from one peer holding a chain of
// coinbase-only blocks, over TCP on loopback: from the node's start to its
// tip equalling the peer's. Opening the empty store is not timed. Beside
// blocks/s it reports the CPU time both nodes spent per block, which other
// work on the machine disturbs less than the rate.
func BenchmarkSync(b *testing.B) {
	src := newChain(b)
	chaintest.Extend(b, src, *benchBlocks, chain.Address{})
	a := startNode(b, src, nil, testConfig())
	want := src.Tip()
	var took, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		cfg := testConfig()
		cfg.Connect = []string{a.addr}
		ch := newChain(b)
		tips, cancel := ch.Subscribe()
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime(b)
		n := startNode(b, ch, nil, cfg)
		for ch.Tip().Hash != want.Hash {
			select {
			case <-tips:
			case <-time.After(time.Minute):
				b.Fatalf("at height %d of %d after a minute", ch.Tip().Height, want.Height)
			}
		}
		took += time.Since(start)
		cpu += cpuTime(b) - cpu0
		b.StopTimer()
		cancel()
		n.stop()
		b.StartTimer()
	}
	blocks := float64(want.Height) * float64(b.N)
	b.ReportMetric(blocks/took.Seconds(), "blocks/s")
	b.ReportMetric(float64(cpu.Microseconds())/blocks, "cpu-µs/block")
}

// A node that synced one branch moves to a heavier one that forks below
// its tip, from genesis or from a block both share, whether it learns the
// heavier branch after the first or both at once: the download starts over
// at the fork, and the chain reorganises.
func TestSyncMovesToHeavierBranch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		shared   int  // blocks the branches share
		together bool // both peers joined at once
	}{
		{"from genesis, one after the other", 0, false},
		{"from genesis, both at once", 0, true},
		{"from a shared block, one after the other", 2, false},
		{"from a shared block, both at once", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			light := startNode(t, newChain(t), nil, testConfig())
			chaintest.Extend(t, light.ch, 5, chain.Address{1})
			heavyCh := newChain(t)
			if tt.shared > 0 {
				chaintest.Connect(t, heavyCh, blocksOf(t, light.ch, 1, tt.shared))
			}
			chaintest.Extend(t, heavyCh, 35-tt.shared, chain.Address{2})
			heavy := startNode(t, heavyCh, nil, testConfig())

			addrs := []string{light.addr}
			if tt.together {
				addrs = append(addrs, heavy.addr)
			}
			n, st := startSyncing(t, blockStall, addrs...)
			if !tt.together {
				waitTip(t, 10*time.Second, n, light)
				if err := n.Connect(heavy.addr); err != nil {
					t.Fatal(err)
				}
			}
			waitSynced(t, n, st, heavy)
		})
	}
}

// blocksOf returns ch's main-chain blocks at heights from to to.
func blocksOf(t *testing.T, ch *chain.Chain, from, to int) []*chain.Block {
	t.Helper()
	var out []*chain.Block
	for _, h := range ch.HeadersAfter(nil, chain.Hash{}, to)[from-1:] {
		b, err := ch.Block(h.Hash())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// Headers from a peer other than the sync peer that would start the branch
// over while its blocks download are passed over: they might begin a
// lighter branch, and two peers on two branches would take turns
// restarting the download.
func TestDownloadKeepsBranchAgainstOtherPeers(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	chaintest.Extend(t, a.ch, 300, chain.Address{1})
	// A sends its headers but none of its blocks: the download stays under way.
	noBlocks := startFilterProxy(t, a.addr, func(m wire.Message) wire.Message {
		if _, ok := m.(*wire.MsgBlock); ok {
			return nil
		}
		return m
	})
	n, _ := startSyncing(t, time.Hour, noBlocks.addr)
	waitFor(t, 10*time.Second, "blocks asked of A", func() bool { return noBlocks.count("getdata") > 0 })

	fork := newChain(t)
	chaintest.Extend(t, fork, 400, chain.Address{2})
	r := dialReady(t, n.addr, hostileHost)
	r.send(&wire.MsgHeaders{Headers: fork.HeadersAfter(nil, chain.Hash{}, 400)})
	r.roundTrip()

	n.dl.mu.Lock()
	first, _ := n.dl.headers.Hash(1)
	n.dl.mu.Unlock()
	if want := a.ch.HeadersAfter(nil, chain.Hash{}, 1)[0].Hash(); first != want {
		t.Errorf("the branch at height 1 is %s, want A's %s", first, want)
	}
	if n.banned(hostileHost) {
		t.Errorf("a peer was banned for headers of a valid branch")
	}
}
