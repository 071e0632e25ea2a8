package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/hashforge/hashforge/internal/tty"
	"github.com/hashforge/hashforge/sim"
)

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("miner sim", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: miner sim [-n N] [--blocks B] [--seed S] [--out DIR] [flags]\n\n"+
			"Simulate a network of N nodes on a virtual clock: each node runs the node's own\n"+
			"chain, mempool, block templates and peer protocol, over links with latency,\n"+
			"bandwidth and loss; blocks are found as a Poisson process at --interval. The\n"+
			"same seed gives the same run, byte for byte. Faults: partitions, crashes, and\n"+
			"nodes that send invalid blocks, which honest nodes must refuse and discourage.\n"+
			"Writes DIR/report.json and plots.\n\nFlags:\n%s", fs.FlagUsages())
	}
	d := sim.DefaultConfig()
	cfg := d
	fs.IntVarP(&cfg.Nodes, "nodes", "n", d.Nodes, "nodes in the network")
	fs.IntVar(&cfg.PeersPerNode, "peers", d.PeersPerNode, "peers each node dials")
	fs.IntVar(&cfg.Blocks, "blocks", d.Blocks, "blocks to find before the run settles and ends")
	fs.Uint64Var(&cfg.Seed, "seed", d.Seed, "seed of every random choice of the run")
	fs.DurationVar(&cfg.Interval, "interval", d.Interval, "mean time between blocks, network-wide")
	fs.DurationVar(&cfg.TxInterval, "tx-interval", 0, "mean time between transfers, network-wide, all sent through node 0 as a wallet sends through its node (0: none)")
	fs.DurationVar(&cfg.Settle, "settle", 0, "time after the last block for it to spread (default: --interval)")
	fs.Float64Var(&cfg.Loss, "loss", 0, "probability that a message is lost")
	fs.StringVar(&cfg.HashDist, "hash", "equal", "hash power of the nodes: equal or exponential")
	latency := fs.String("latency", "regions", "link latency: regions (SimBlock's six regions) or uniform:DELAY[:JITTER] (e.g. uniform:100ms:20ms)")
	partitions := fs.StringArray("partition", nil, "split the network in two halves from AT to UNTIL, e.g. 2h-3h (repeatable)")
	crashes := fs.StringArray("crash", nil, "crash a share of the nodes from AT to UNTIL, e.g. 5h-6h:10% (repeatable)")
	badBlocks := fs.StringArray("bad-blocks", nil, "from AT to UNTIL, a share of the nodes send their peers invalid blocks where they would mine, e.g. 1h-3h:5% (repeatable)")
	out := fs.String("out", "sim-out", "folder for report.json and the plots")
	httpPort := fs.Uint16("http", 0, "serve the clocked controller of --scenario on this port instead of running (see README)")
	httpAddr := fs.String("http-addr", "127.0.0.1", "address the controller binds to")
	scenario := fs.String("scenario", "classic", "the controller's scenario: classic (three nodes; the start pays aki 2, so 7, satoshi 5 coins)")
	costs := fs.String("costs", "mine=3,block=1,tx=1,receive=1,answer=0", "ticks each action takes under the controller")
	sweep := fs.String("sweep", "", "run once per block interval, e.g. 2s,5s,10s,30s, all else the same: DIR/sweep.json and a stale-rate plot instead of one report")
	if err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *httpPort != 0 {
		if *scenario != "classic" {
			return usagef("--scenario %q: the one scenario is classic", *scenario)
		}
		c, err := sim.ParseCosts(*costs)
		if err != nil {
			return usagef("--costs: %v", err)
		}
		return sim.ServeController(ctx, net.JoinHostPort(*httpAddr, strconv.Itoa(int(*httpPort))), c, cfg.Seed, stderr)
	}
	var err error
	if cfg.Latency, err = sim.ParseLatency(*latency); err != nil {
		return usagef("--latency %q: %v", *latency, err)
	}
	for _, opt := range []struct {
		name   string
		kind   sim.FaultKind
		values []string
	}{{"--partition", sim.Partition, *partitions}, {"--crash", sim.Crash, *crashes}, {"--bad-blocks", sim.BadBlocks, *badBlocks}} {
		for _, v := range opt.values {
			f, err := sim.ParseFault(v, opt.kind, cfg.Nodes)
			if err != nil {
				return usagef("%s %q: %v", opt.name, v, err)
			}
			cfg.Faults = append(cfg.Faults, f)
		}
	}
	cfg.Check = sim.CheckNodes
	if tty.Is(stderr) {
		cfg.Progress = func(mined, total int) { progressBar(stderr, mined, total) }
	}
	newNode := func(i int) sim.Node { return sim.NewChainNode(i) }
	tuneCollector()
	if *sweep != "" {
		var intervals []time.Duration
		for _, f := range strings.Split(*sweep, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(f))
			if err != nil || d <= 0 {
				return usagef("--sweep %q: want block intervals such as 2s,5s,10s", *sweep)
			}
			intervals = append(intervals, d)
		}
		cfg.Progress = nil
		rows, err := sim.Sweep(ctx, cfg, intervals, newNode)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, sim.SweepTable(rows))
		return sim.WriteSweep(*out, rows)
	}
	s, err := sim.New(cfg, newNode)
	if err != nil {
		return usagef("%v", err)
	}
	r, err := s.Run(ctx)
	if cfg.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	if err := r.WriteReport(*out); err != nil {
		return err
	}
	fmt.Fprint(stdout, r.Summary())
	fmt.Fprintf(stdout, "report: %s\n", strings.TrimSuffix(*out, "/")+"/report.json")
	for _, v := range r.Invariants {
		if v != "ok" {
			return fmt.Errorf("an invariant failed: see the report")
		}
	}
	return nil
}

// progressBar redraws one line: the blocks found of the run's total.
func progressBar(w io.Writer, done, total int) {
	const width = 40
	n := width * done / max(total, 1)
	fmt.Fprintf(w, "\r[%s%s] %d/%d blocks", strings.Repeat("#", n), strings.Repeat(" ", width-n), done, total)
}

// tuneCollector lets the heap grow to five times what is live before the
// collector runs (Go's default: twice), within 5 GiB, unless GOGC or
// GOMEMLIMIT say otherwise: a run keeps every node of a network in one heap,
// and at a thousand nodes collecting at the default rate took a seventh of
// the run's time.
func tuneCollector() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(5 << 30)
	}
}
