package sim

import (
	"context"
	"testing"
	"time"
)

// smallNet is a run of real nodes small enough for a unit test.
func smallNet(seed uint64) Config {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.PeersPerNode, cfg.Blocks = 12, 3, 15
	cfg.Interval, cfg.TxInterval = 20*time.Second, 2*time.Second
	cfg.Seed = seed
	cfg.Check = CheckNodes
	return cfg
}

func runChainNodes(t *testing.T, cfg Config) *Report {
	t.Helper()
	r, err := Run(context.Background(), cfg, func(i int) Node { return NewChainNode(i) })
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Twelve nodes of the node's own code mine 15 blocks: every node ends on
// the main chain's tip, every invariant holds, and the blocks spread in
// the time the links take.
func TestChainNodes(t *testing.T) {
	r := runChainNodes(t, smallNet(1))
	if r.NodesOnFinalTip != 12 || r.MainChainBlocks+r.StaleBlocks != r.Blocks || r.Blocks < 15 {
		t.Errorf("%d nodes on the final tip, %d blocks (%d main, %d stale): want all 12 on it", r.NodesOnFinalTip, r.Blocks, r.MainChainBlocks, r.StaleBlocks)
	}
	for name, v := range r.Invariants {
		if v != "ok" {
			t.Errorf("invariant %s: %s", name, v)
		}
	}
	if r.PropagationMS.P50 <= 0 || r.PropagationMS.P50 > 5000 {
		t.Errorf("propagation p50 %v ms: want the links' delay, well under 5 s", r.PropagationMS.P50)
	}
	if r.TxConfirmationS.P50 <= 0 || r.TxConfirmationS.P50 > 120 {
		t.Errorf("transactions confirmed in %v s (p50): want within a few block intervals", r.TxConfirmationS.P50)
	}
	t.Logf("%s", r.Summary())
}

// The same seed gives the same run, byte for byte; another seed another.
func TestChainNodesDeterministic(t *testing.T) {
	a, b, c := runChainNodes(t, smallNet(3)), runChainNodes(t, smallNet(3)), runChainNodes(t, smallNet(4))
	if a.Digest != b.Digest {
		t.Errorf("seed 3 twice: digests %s and %s", a.Digest, b.Digest)
	}
	if a.Digest == c.Digest {
		t.Errorf("seeds 3 and 4: the same digest %s", a.Digest)
	}
}

// BenchmarkChainNodes runs a network of the node's own code: -n nodes of
// 8 peers mining -blocks blocks at -interval, reporting events per second
// and the peak heap.
func BenchmarkChainNodes(b *testing.B) {
	for range b.N {
		cfg := DefaultConfig()
		cfg.Nodes, cfg.Blocks, cfg.Interval = benchNodes, benchBlocks, benchInterval
		cfg.TxInterval = benchInterval / 10 // ten transfers a block
		r, err := Run(context.Background(), cfg, func(i int) Node { return NewChainNode(i) })
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.EventsPerSecond, "events/s")
		b.ReportMetric(float64(r.PeakHeapBytes)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(r.Events), "events")
	}
}

var (
	benchNodes    = 100
	benchBlocks   = 20
	benchInterval = 10 * time.Second
)
