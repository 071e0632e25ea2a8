package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/report.golden.json from what the run reports")

// stable is the report as JSON without the wall-clock fields, which are
// the only ones two runs of one seed may differ in.
func stable(t *testing.T, r *Report) []byte {
	t.Helper()
	c := *r
	c.EventsPerSecond, c.WallS, c.PeakHeapBytes, c.PeakSysBytes = 0, 0, 0, 0
	js, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(js, '\n')
}

func run(t *testing.T, cfg Config, newNode func(int) Node) (*Sim, *Report) {
	t.Helper()
	s, err := New(cfg, newNode)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

// faultyConfig is a small run with every kind of fault, loss and regions.
func faultyConfig(seed uint64) Config {
	cfg := DefaultConfig()
	cfg.Nodes = 40
	cfg.Blocks = 30
	cfg.Interval = 20 * time.Second
	cfg.Seed = seed
	cfg.Loss = 0.01
	cfg.HashDist = "exponential"
	cfg.Faults = []Fault{
		{Kind: Partition, At: 60 * time.Second, Until: 180 * time.Second, Groups: [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}},
		{Kind: Crash, At: 100 * time.Second, Until: 200 * time.Second, Nodes: []int{11, 12, 13}},
		{Kind: DelaySpike, At: 250 * time.Second, Until: 300 * time.Second, Delay: 2 * time.Second},
		{Kind: LossBurst, At: 300 * time.Second, Until: 350 * time.Second, Nodes: []int{20}, Loss: 0.5},
		{Kind: BadBlocks, At: 120 * time.Second, Until: 220 * time.Second, Nodes: []int{30}},
	}
	cfg.Check = func(nodes []Node, up []bool) map[string]error {
		tips := map[string]int{}
		for i, n := range nodes {
			if up[i] && n.(*floodNode).tip != nil {
				tips[n.(*floodNode).tip.id]++
			}
		}
		var err error
		if len(tips) != 1 {
			err = errors.New("nodes on different tips")
		}
		return map[string]error{"one tip": err}
	}
	return cfg
}

func TestDeterminism(t *testing.T) {
	_, a := run(t, faultyConfig(7), newFlood(50_000))
	_, b := run(t, faultyConfig(7), newFlood(50_000))
	_, c := run(t, faultyConfig(8), newFlood(50_000))
	if a.Digest != b.Digest {
		t.Errorf("same seed, digests %s and %s", a.Digest, b.Digest)
	}
	if ja, jb := stable(t, a), stable(t, b); !bytes.Equal(ja, jb) {
		t.Errorf("same seed, different reports:\n%s\n%s", ja, jb)
	}
	if a.Digest == c.Digest {
		t.Errorf("seeds 7 and 8 give the same digest %s", a.Digest)
	}
	if a.Blocks != 30 || a.Events == 0 {
		t.Errorf("blocks %d, events %d", a.Blocks, a.Events)
	}
	if len(a.ConvergenceMS) != 1 || a.ConvergenceMS[0].MS < 0 {
		t.Errorf("convergence after the heal: %+v", a.ConvergenceMS)
	}
	for _, why := range []string{"partition", "down", "loss"} {
		n := 0
		for _, m := range a.Messages {
			n += m.Dropped[why]
		}
		if n == 0 {
			t.Errorf("no message dropped for %q", why)
		}
	}
}

func TestLinkFIFO(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Edges = 2, [][2]int{{0, 1}}
	cfg.Latency = Uniform{Delay: 10 * time.Millisecond, Jitter: 200 * time.Millisecond, BitsPerSecond: 1e8}
	cfg.Duration = time.Minute
	cfg.Interval = time.Hour
	nodes := []*burstNode{{count: 2000}, {}}
	run(t, cfg, func(i int) Node { return nodes[i] })
	got := nodes[1].got
	if len(got) != 2000 {
		t.Fatalf("%d of 2000 delivered", len(got))
	}
	tied := 0
	for i := 1; i < len(got); i++ {
		if got[i].seq != got[i-1].seq+1 {
			t.Fatalf("message %d arrived after %d", got[i].seq, got[i-1].seq)
		}
		if got[i].at == got[i-1].at {
			tied++
		}
	}
	// The jitter is far larger than the transmission times: without FIFO
	// most messages would overtake, so many arrive together behind a slow one.
	if tied == 0 {
		t.Error("no message waited behind an earlier one: is the jitter drawn?")
	}
}

func TestLoss(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Edges = 2, [][2]int{{0, 1}}
	cfg.Latency = Uniform{Delay: time.Millisecond}
	cfg.Duration, cfg.Interval = time.Minute, time.Hour
	cfg.Loss = 0.3
	nodes := []*burstNode{{count: 10000}, {}}
	_, r := run(t, cfg, func(i int) Node { return nodes[i] })
	// Binomial(10000, 0.7): σ ≈ 46; allow 5σ.
	if got := len(nodes[1].got); math.Abs(float64(got)-7000) > 230 {
		t.Errorf("%d of 10000 delivered at loss 0.3", got)
	}
	m := r.Messages["burst"]
	if m.Sent != 10000 || m.Delivered+m.Dropped["loss"] != m.Sent || m.Delivered != len(nodes[1].got) {
		t.Errorf("message counts %+v, %d received", m, len(nodes[1].got))
	}
}

func ticks(n int, period time.Duration) ([]*tickNode, func(int) Node) {
	nodes := make([]*tickNode, n)
	for i := range nodes {
		nodes[i] = &tickNode{period: period}
	}
	return nodes, func(i int) Node { return nodes[i] }
}

func complete(n int) [][2]int {
	var e [][2]int
	for i := range n {
		for j := i + 1; j < n; j++ {
			e = append(e, [2]int{i, j})
		}
	}
	return e
}

func TestPartition(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Edges = 4, complete(4)
	cfg.Latency = Uniform{Delay: 30 * time.Millisecond, Jitter: 20 * time.Millisecond}
	cfg.Duration, cfg.Interval = 5*time.Second, time.Hour
	cfg.Faults = []Fault{{Kind: Partition, At: time.Second, Until: 3 * time.Second, Groups: [][]int{{0, 1}, {2, 3}}}}
	nodes, mk := ticks(4, 100*time.Millisecond)
	_, r := run(t, cfg, mk)
	side := func(i int) int { return i / 2 }
	for i, n := range nodes {
		across, after, within := 0, 0, 0
		for _, d := range n.got {
			switch {
			case side(d.from) == side(i) && d.at >= time.Second && d.at <= 3*time.Second:
				within++
			case side(d.from) == side(i):
			case d.at >= time.Second && d.at <= 3*time.Second:
				across++
			case d.at > 3*time.Second:
				after++
			}
		}
		if across != 0 {
			t.Errorf("node %d: %d messages across the partition while it held", i, across)
		}
		if after == 0 || within == 0 {
			t.Errorf("node %d: %d messages across after the heal, %d within its side during the partition", i, after, within)
		}
	}
	if r.Messages["tick"].Dropped["partition"] == 0 {
		t.Error("the report counts no message dropped by the partition")
	}
}

func TestCrashRestart(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Edges = 3, complete(3)
	cfg.Latency = Uniform{Delay: 10 * time.Millisecond}
	cfg.Duration, cfg.Interval = 3*time.Second, 50*time.Millisecond
	cfg.HashPower = []float64{0, 1, 0} // every block is node 1's
	cfg.Faults = []Fault{{Kind: Crash, At: time.Second, Until: 2 * time.Second, Nodes: []int{1}}}
	nodes, mk := ticks(3, 100*time.Millisecond)
	_, r := run(t, cfg, mk)
	n := nodes[1]
	if len(n.starts) != 2 || n.starts[0] != 0 || n.starts[1] != 2*time.Second || n.crashes != 1 {
		t.Errorf("starts %v, crashes %d; want [0 2s], 1", n.starts, n.crashes)
	}
	if n.badWakes != 0 {
		t.Errorf("%d timers set before the crash fired after it", n.badWakes)
	}
	down := func(at time.Duration) bool { return at > time.Second && at < 2*time.Second }
	for _, d := range n.got {
		if down(d.at) {
			t.Errorf("node 1 received a message at %v, while down", d.at)
		}
	}
	before, afterRestart := 0, 0
	for _, at := range n.mines {
		switch {
		case down(at):
			t.Errorf("node 1 mined at %v, while down", at)
		case at < time.Second:
			before++
		case at > 2*time.Second:
			afterRestart++
		}
	}
	if before == 0 || afterRestart == 0 {
		t.Errorf("node 1 mined %d blocks before the crash, %d after the restart", before, afterRestart)
	}
	for _, i := range []int{0, 2} {
		from1 := 0
		for _, d := range nodes[i].got {
			if d.from == 1 && d.at > 2*time.Second+50*time.Millisecond {
				from1++
			}
		}
		if from1 == 0 {
			t.Errorf("node %d heard nothing from node 1 after its restart", i)
		}
	}
	if r.Messages["tick"].Dropped["down"] == 0 {
		t.Error("no message to the crashed node was dropped")
	}
}

func TestPoissonSchedule(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.PeersPerNode = 2, 1
	cfg.Latency = Uniform{Delay: time.Millisecond}
	cfg.Blocks, cfg.Interval = 1000, 10*time.Minute
	cfg.HashPower = []float64{1, 3}
	nodes, mk := ticks(2, time.Hour)
	calls := 0
	cfg.Progress = func(mined, total int) {
		calls++
		if mined != calls || total != 1000 {
			t.Fatalf("progress %d/%d at call %d", mined, total, calls)
		}
	}
	_, r := run(t, cfg, mk)
	if r.Blocks != 1000 || calls != 1000 {
		t.Fatalf("%d blocks, %d progress calls", r.Blocks, calls)
	}
	// A mean of 1000 exponential waits has a σ of T/√1000 ≈ 3.2 % of T.
	if math.Abs(r.MeanIntervalS-600)/600 > 0.1 {
		t.Errorf("mean interval %.1f s, want 600 s ± 10 %%", r.MeanIntervalS)
	}
	// Node 1 has 3/4 of the hash power: σ ≈ 1.4 % over 1000 blocks.
	if share := float64(len(nodes[1].mines)) / 1000; math.Abs(share-0.75) > 0.05 {
		t.Errorf("node 1 found %.3f of the blocks, want 0.75", share)
	}
}

// On a line 0-1-2-3-4 with a fixed latency L and every block found by
// node 0, node k has a block at k·(L + size/bandwidth).
func TestPropagationOnALine(t *testing.T) {
	for _, tc := range []struct {
		name    string
		latency Uniform
		size    int
		hop     float64 // ms
	}{
		{"latency", Uniform{Delay: 100 * time.Millisecond}, 1000, 100},
		{"latency and bandwidth", Uniform{Delay: 100 * time.Millisecond, BitsPerSecond: 8e6}, 1_000_000, 1100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Nodes = 5
			cfg.Edges = [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 4}}
			cfg.Latency = tc.latency
			cfg.Blocks, cfg.Interval = 3, time.Hour
			cfg.HashPower = []float64{1, 0, 0, 0, 0}
			_, r := run(t, cfg, newFlood(tc.size))
			h := tc.hop
			to := r.PropagationToMS
			for _, c := range []struct {
				name string
				p    Percentiles
				want float64
			}{{"50", to.Half, 2 * h}, {"90", to.Most, 4 * h}, {"100", to.All, 4 * h}} {
				if c.p.Count != 3 || c.p.P50 != c.want || c.p.P99 != c.want {
					t.Errorf("to %s %%: %+v, want %v ms for each of 3 blocks", c.name, c.p, c.want)
				}
			}
			if r.PropagationMS != r.PropagationToMS.Most {
				t.Errorf("propagation_ms %+v is not the time to 90 %%", r.PropagationMS)
			}
			if r.MeanPropagationMS != 2.5*h {
				t.Errorf("τ %v ms, want %v", r.MeanPropagationMS, 2.5*h)
			}
			if r.StaleBlocks != 0 || r.MainChainBlocks != 3 || r.NodesOnFinalTip != 5 {
				t.Errorf("stale %d, main %d, on the final tip %d", r.StaleBlocks, r.MainChainBlocks, r.NodesOnFinalTip)
			}
			if want := []float64{0, h, 2 * h, 3 * h, 4 * h}; len(r.cdf) != 5 || r.cdf[4] != want[4] || r.cdf[1] != want[1] {
				t.Errorf("CDF of the median block %v, want %v", r.cdf, want)
			}
		})
	}
}

// Two nodes far apart find blocks faster than they hear of each other's:
// forks, stale blocks and reorgs, and the counts must add up.
func TestStaleBlocksAndReorgs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Edges = 2, [][2]int{{0, 1}}
	cfg.Latency = Uniform{Delay: 2 * time.Second}
	cfg.Blocks, cfg.Interval = 200, 3*time.Second
	cfg.Check = func(nodes []Node, up []bool) map[string]error {
		return map[string]error{"holds": nil, "broken": errors.New("on purpose")}
	}
	s, r := run(t, cfg, newFlood(100))
	if r.StaleBlocks == 0 || r.StaleBlocks+r.MainChainBlocks != r.Blocks {
		t.Errorf("%d blocks: %d stale, %d on the main chain", r.Blocks, r.StaleBlocks, r.MainChainBlocks)
	}
	// The two may end on rival tips of one height: either may be the
	// final one, and the main chain is as long as its height.
	t0, t1 := s.Node(0).(*floodNode).tip, s.Node(1).(*floodNode).tip
	if tip := t0; (r.FinalTip != t0.id && r.FinalTip != t1.id) || r.MainChainBlocks != tip.height {
		t.Errorf("final tip %s with %d blocks; the nodes are on %s (%d) and %s (%d)", r.FinalTip, r.MainChainBlocks, t0.id, t0.height, t1.id, t1.height)
	}
	if len(r.ReorgDepths) == 0 || r.ReorgDepths[0].Depth != 1 {
		t.Errorf("reorg depths %v", r.ReorgDepths)
	}
	if r.Invariants["holds"] != "ok" || r.Invariants["broken"] != "failed: on purpose" {
		t.Errorf("invariants %v", r.Invariants)
	}
	if r.StaleRate < 0.1 || r.TheoryStaleRate == 0 {
		t.Errorf("stale rate %v, theory %v", r.StaleRate, r.TheoryStaleRate)
	}
}

// txNode submits one transaction at start and confirms it 5 s later.
type txNode struct{ floodNode }

func (n *txNode) Start(env Env) {
	n.floodNode.Start(env)
	env.Observe(Observation{Kind: TxSubmitted, Tx: "tx" + string(rune('a'+env.Self()))})
	env.After(time.Duration(env.Self()+1)*time.Second, nil)
}

func (n *txNode) Wake(env Env, _ any) {
	env.Observe(Observation{Kind: TxConfirmed, Tx: "tx" + string(rune('a'+env.Self()))})
}

func TestReportGolden(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Blocks, cfg.Interval = 12, 8, time.Minute
	cfg.Faults = []Fault{{Kind: Partition, At: 2 * time.Minute, Until: 4 * time.Minute, Groups: [][]int{{0, 1, 2}}}}
	cfg.Check = func([]Node, []bool) map[string]error { return map[string]error{"example": nil} }
	_, r := run(t, cfg, func(int) Node { return &txNode{floodNode{size: 1000}} })
	if r.TxConfirmationS.Count != 12 || r.TxConfirmationS.P50 != 6 {
		t.Errorf("tx confirmation %+v, want 12 at 1..12 s", r.TxConfirmationS)
	}
	got := stable(t, r)
	golden := filepath.Join("testdata", "report.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./sim -run TestReportGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report differs from %s (-update rewrites it):\n%s", golden, got)
	}
	dir := t.TempDir()
	if err := r.WriteReport(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"report.json", "propagation_cdf.svg", "fork_tree.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".svg") && (!bytes.HasPrefix(b, []byte("<svg")) || !bytes.HasSuffix(b, []byte("</svg>\n"))) {
			t.Errorf("%s is not an SVG document", name)
		}
	}
	var keys map[string]json.RawMessage
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"digest", "nodes", "blocks", "stale_rate", "propagation_ms", "invariants", "events_per_second"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("report.json lacks %q", k)
		}
	}
	var prop map[string]float64
	if err := json.Unmarshal(keys["propagation_ms"], &prop); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"p50", "p90", "p99"} {
		if _, ok := prop[k]; !ok {
			t.Errorf("propagation_ms lacks %q", k)
		}
	}
	if s := r.Summary(); !strings.Contains(s, r.Digest) || !strings.Contains(s, "stale rate") {
		t.Errorf("summary:\n%s", s)
	}
}

func TestConfigErrors(t *testing.T) {
	mk := newFlood(1)
	for name, mut := range map[string]func(*Config){
		"no nodes":     func(c *Config) { c.Nodes = 0 },
		"no end":       func(c *Config) { c.Blocks, c.Duration = 0, 0 },
		"loss":         func(c *Config) { c.Loss = 1.5 },
		"fault node":   func(c *Config) { c.Faults = []Fault{{Kind: Crash, At: 1, Nodes: []int{500}}} },
		"fault window": func(c *Config) { c.Faults = []Fault{{Kind: DelaySpike, At: 5, Until: 2}} },
		"edge":         func(c *Config) { c.Edges = [][2]int{{3, 3}} },
		"hash shares":  func(c *Config) { c.HashPower = []float64{1} },
		"hash dist":    func(c *Config) { c.HashDist = "zipf" },
	} {
		cfg := DefaultConfig()
		mut(&cfg)
		if _, err := New(cfg, mk); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
}

func TestContextEndsRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Blocks = 1_000_000
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := New(cfg, newFlood(1000))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Run(ctx); !errors.Is(err, context.Canceled) || r == nil {
		t.Errorf("Run on an ended context: %v, %v", r, err)
	}
}

func TestRunUntil(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Edges = 2, [][2]int{{0, 1}}
	cfg.Latency = Uniform{Delay: 10 * time.Millisecond}
	cfg.Duration, cfg.Interval = 2*time.Second, time.Hour
	nodes, mk := ticks(2, 100*time.Millisecond)
	s, err := New(cfg, mk)
	if err != nil {
		t.Fatal(err)
	}
	if !s.RunUntil(Epoch().Add(time.Second)) || !s.Now().Equal(Epoch().Add(time.Second)) {
		t.Fatalf("after RunUntil(1 s): now %v, done %v", s.Now(), s.Done())
	}
	if got := len(nodes[1].got); got != 9 { // ticks sent at 0.1 … 0.9 s
		t.Errorf("%d ticks by 1 s, want 9", got)
	}
	if s.RunUntil(Epoch().Add(time.Hour)) || !s.Now().Equal(Epoch().Add(2*time.Second)) {
		t.Errorf("past the end: now %v, done %v", s.Now(), s.Done())
	}
	if r := s.Report(); r.Events == 0 || r.VirtualS != 2 {
		t.Errorf("report: %d events, %v s", r.Events, r.VirtualS)
	}
}
