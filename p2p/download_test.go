package p2p

import (
	"flag"
	"syscall"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// setStall changes how long a peer may hold blocks back.
func (d *download) setStall(v time.Duration) {
	d.mu.Lock()
	d.stall = v
	d.mu.Unlock()
}

// syncedFrom starts an empty node joined to every address, waits until it
// has src's tip, and returns it.
func syncedFrom(t *testing.T, src *node, stall time.Duration, addrs ...string) *node {
	t.Helper()
	cfg := testConfig()
	cfg.Connect = addrs
	ch, st := openChain(t, chain.Regtest, t.TempDir())
	n := startNode(t, ch, nil, cfg)
	n.dl.setStall(stall)
	start := time.Now()
	waitTip(t, 60*time.Second, n, src)
	took := time.Since(start)
	t.Logf("synced %d blocks in %s: %.0f blocks/s", src.ch.Tip().Height, took.Round(time.Millisecond), float64(src.ch.Tip().Height)/took.Seconds())
	if _, err := chain.Verify(t.Context(), chain.Regtest, st, nil); err != nil {
		t.Errorf("the synced store does not verify: %v", err)
	}
	return n
}

// A node syncing from three peers with the same chain asks each of them
// for blocks, and each block of one of them only.
func TestSyncFromSeveralPeers(t *testing.T) {
	t.Parallel()
	const blocks = 3*chain.MaxHeaders + 500
	a := newChain(t)
	mineRuns(t, a, blocks)
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
	syncedFrom(t, srcs[0], blockStall, addrs...)
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
// notfound, stalls no sync: another peer is asked for them, after the
// stall time or at the notfound.
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
			mineRuns(t, a.ch, blocks)
			b := startNode(t, copyChain(t, a.ch), nil, testConfig())
			withholding := startFilterProxy(t, b.addr, tt.filter)
			syncedFrom(t, a, tt.stall, a.addr, withholding.addr)
			if withholding.count("getdata") == 0 {
				t.Errorf("the withholding peer was never asked for blocks")
			}
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
	mineRuns(b, src, *benchBlocks)
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
