package sim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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

// The same seed gives the same run, byte for byte, through a partition, a
// crash (stalled downloads given up and asked again) and a node sending
// invalid blocks; another seed another. Eight runs: an order taken from a
// map showed in one run of ten.
func TestChainNodesDeterministic(t *testing.T) {
	faulty := func(seed uint64) Config {
		cfg := smallNet(seed)
		cfg.Faults = []Fault{
			{Kind: Partition, At: 60 * time.Second, Until: 120 * time.Second, Groups: Halves(cfg.Nodes)},
			{Kind: Crash, At: 140 * time.Second, Until: 180 * time.Second, Nodes: []int{0, cfg.Nodes / 2}},
			{Kind: BadBlocks, At: 30 * time.Second, Nodes: []int{cfg.Nodes - 1}},
		}
		return cfg
	}
	first := runChainNodes(t, faulty(3)).Digest
	for run := range 7 {
		if d := runChainNodes(t, faulty(3)).Digest; d != first {
			t.Fatalf("seed 3, run %d: digest %s, the first run's %s", run+2, d, first)
		}
	}
	if d := runChainNodes(t, faulty(4)).Digest; d == first {
		t.Errorf("seeds 3 and 4: the same digest %s", first)
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

// Thirty nodes through two partitions and a crash wave: once the network
// heals and the crashed nodes are back (their stores kept, their memory
// lost), every node is on the most-work tip, its store replays, and no
// node banned a peer.
func TestChainNodesFaults(t *testing.T) {
	cfg := smallNet(5)
	cfg.Nodes, cfg.PeersPerNode, cfg.Blocks = 30, 4, 40
	halves := Halves(cfg.Nodes)
	cfg.Faults = []Fault{
		{Kind: Partition, At: 100 * time.Second, Until: 250 * time.Second, Groups: halves},
		{Kind: Crash, At: 300 * time.Second, Until: 420 * time.Second, Nodes: []int{1, 7, 13, 19, 25}},
		{Kind: Partition, At: 500 * time.Second, Until: 600 * time.Second, Groups: halves},
	}
	cfg.Settle = 3 * time.Minute
	r := runChainNodes(t, cfg)
	for name, v := range r.Invariants {
		if v != "ok" {
			t.Errorf("invariant %s: %s", name, v)
		}
	}
	if r.NodesOnFinalTip != cfg.Nodes || len(r.ConvergenceMS) != 2 {
		t.Errorf("%d of %d nodes on the final tip, %d heals measured: want all, and both heals", r.NodesOnFinalTip, cfg.Nodes, len(r.ConvergenceMS))
	}
	t.Logf("%s", r.Summary())
}

// deafNode is a ChainNode that never takes a block from a peer: the
// invariants must say so.
type deafNode struct{ *ChainNode }

func (d deafNode) Receive(env Env, from int, msg Message) {
	if msg.Kind != "block" {
		d.ChainNode.Receive(env, from, msg)
	}
}

// A node that breaks the protocol on purpose (it drops every block it is
// sent) fails the invariant "on the most-work tip", and the report says so.
func TestChainNodesBrokenInvariant(t *testing.T) {
	cfg := smallNet(6)
	cfg.HashPower = make([]float64, cfg.Nodes)
	for i := range cfg.HashPower {
		cfg.HashPower[i] = 1
	}
	cfg.HashPower[0] = 0 // the deaf node finds nothing of its own
	cfg.Check = func(nodes []Node, up []bool) map[string]error {
		plain := make([]Node, len(nodes))
		for i, n := range nodes {
			if d, ok := n.(deafNode); ok {
				n = d.ChainNode
			}
			plain[i] = n
		}
		return CheckNodes(plain, up)
	}
	r, err := Run(context.Background(), cfg, func(i int) Node {
		if i == 0 {
			return deafNode{NewChainNode(i)}
		}
		return NewChainNode(i)
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := r.Invariants["on the most-work tip"]; !strings.HasPrefix(v, "failed") || !strings.Contains(v, "node 0 ") {
		t.Errorf("invariant on the most-work tip: %q, want it failed naming node 0", v)
	}
}

// A sweep runs once per interval, all else the same, and writes its table
// as JSON and a plot.
func TestSweep(t *testing.T) {
	cfg := smallNet(2)
	cfg.Nodes, cfg.Blocks, cfg.Check = 8, 10, nil
	rows, err := Sweep(context.Background(), cfg, []time.Duration{2 * time.Second, 20 * time.Second}, func(i int) Node { return NewChainNode(i) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].IntervalS != 2 || rows[1].IntervalS != 20 || rows[0].Digest == rows[1].Digest {
		t.Fatalf("rows %+v: want one run at 2 s and one at 20 s", rows)
	}
	for _, r := range rows {
		if r.Blocks < 10 || r.MeanPropagationMS <= 0 || r.TheoryStaleRate <= 0 || r.TheoryStaleRate >= 1 {
			t.Errorf("row %+v: want 10 blocks or more, a propagation time and a theory rate in (0, 1)", r)
		}
	}
	if rows[0].TheoryStaleRate <= rows[1].TheoryStaleRate {
		t.Errorf("theory: %g at 2 s, %g at 20 s; want more stale blocks at the shorter interval", rows[0].TheoryStaleRate, rows[1].TheoryStaleRate)
	}
	dir := t.TempDir()
	if err := WriteSweep(dir, rows); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"sweep.json", "stale_sweep.svg"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || len(b) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	t.Logf("\n%s", SweepTable(rows))
}
