package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	flag "github.com/spf13/pflag"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/devnet"
)

func runDevnet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("miner devnet", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: miner devnet [-n N] [--mine] [--base-port P] [--dir D] [--http PORT] [-- NODE-FLAGS]

Run N local nodes, each joined to the one before, and show their status every
second until Ctrl-C. Node i listens for peers on 127.0.0.1:P+i and serves its
API and metrics on 127.0.0.1:P+100+i; its datadir is D/node<i> and its output
goes to D/node<i>/node.log. D/targets.json lists the nodes for Prometheus
(file_sd_configs). With --http, a manager API on 127.0.0.1:PORT lists the
nodes (GET /nodes), starts or stops mining on all (POST /mining), adds a node
(POST /nodes), stops one (POST /nodes/{i}/stop) and stops them all
(POST /shutdown). Flags after -- are given to every node.

Flags:
%s`, fs.FlagUsages())
	}
	cfg := devnet.Config{Interval: -1}
	fs.IntVarP(&cfg.Nodes, "nodes", "n", 3, fmt.Sprintf("number of nodes, 1 to %d", devnet.MaxNodes))
	fs.BoolVarP(&cfg.Mine, "mine", "m", false, "every node mines")
	fs.IntVar(&cfg.BasePort, "base-port", 19000, "P2P port of node 0; node i uses P+i for P2P and P+100+i for HTTP")
	fs.StringVar(&cfg.Dir, "dir", "devnet", "directory for the nodes' datadirs, logs and targets.json")
	fs.IntVar(&cfg.HTTP, "http", 0, "port of the manager API on 127.0.0.1, 0 = none")
	// The network `miner` runs by default, so a devnet and a node started
	// alone meet on one chain; regtest's blocks take a few hashes.
	network := fs.String("network", chain.Devnet.Name, "network: devnet or regtest")
	fs.IntVarP(&cfg.Threads, "threads", "t", 1, "CPU hashing threads per mining node, 0 = one per core (one each lets N nodes share the cores)")
	interval := fs.Duration("block-interval", 0, "least time between blocks a node mines (default 1s on regtest, unpaced on devnet)")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "the nodes' log format: text or json")
	addTokenFlag(fs, &cfg.Token, "the nodes' API token: each node requires it and the manager sends it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	// Arguments are node flags, and only after --.
	if dash := fs.ArgsLenAtDash(); dash > 0 || (dash < 0 && fs.NArg() > 0) {
		return usagef("unexpected argument %q (node flags go after --)", fs.Arg(0))
	}
	cfg.Extra = fs.Args()
	switch {
	case *interval < 0:
		return usagef("--block-interval %s: must not be negative", *interval)
	case !cfg.Mine && (fs.Changed("threads") || fs.Changed("block-interval")):
		return usagef("--threads and --block-interval are for mining nodes: add --mine")
	case fs.Changed("block-interval"):
		cfg.Interval = *interval
	}
	var err error
	if cfg.Network, err = chain.NetworkByName(*network); err != nil {
		return usageError{err}
	}
	if err := cfg.Check(); err != nil {
		return usageError{err}
	}
	if cfg.Exe, err = os.Executable(); err != nil {
		return fmt.Errorf("devnet: find the miner binary: %w", err)
	}
	return devnet.Run(ctx, cfg, stdout, stderr)
}
