package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/node"
)

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("miner", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: miner [flags]\n       miner COMMAND [flags]\n\nRun a hashforge node.\n\nFlags:\n%s\n", fs.FlagUsages())
		printCommands(stderr)
	}
	mine := fs.BoolP("mine", "m", false, "mine blocks")
	gpu := fs.BoolP("gpu", "c", false, "mine on every GPU (CUDA, then OpenCL GPUs); with -t, on the CPU too")
	hash := addHashFlags(fs)
	port := fs.Uint16P("port", "p", 0, "P2P port (default 8999 on devnet, 18999 on regtest)")
	peers := fs.StringArrayP("peer", "k", nil, "peer to join, host:port (repeatable)")
	httpPort := fs.Uint16P("http", "i", 0, "HTTP port for the API and metrics, 0 = off (default 8001 on devnet, 18001 on regtest)")
	httpAddr := fs.String("http-addr", "127.0.0.1", "address the HTTP server binds to")
	network := addNetworkFlags(fs)
	address := fs.String("address", "", "address the coinbase pays (default: the node's own key in the datadir)")
	interval := fs.Duration("block-interval", 0, "least time between mined blocks, 0 = unpaced (default 200ms on regtest, 0 on devnet)")
	logs := addLogFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}

	log, err := logs.logger(stderr)
	if err != nil {
		return err
	}
	params, dataDir, err := network.resolve()
	if err != nil {
		return err
	}
	if !fs.Changed("port") {
		*port = params.P2PPort
	}
	for _, p := range *peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			return usagef("--peer %q: want host:port", p)
		}
	}
	if len(*peers) > 0 || fs.Changed("port") {
		log.Warn("this build has no P2P layer yet: --port and --peer are accepted but not used", "port", *port, "peers", *peers)
	}
	if !fs.Changed("http") {
		*httpPort = params.HTTPPort
	}
	if !fs.Changed("block-interval") && params == chain.Regtest {
		*interval = 200 * time.Millisecond
	}
	if *interval < 0 {
		return usagef("--block-interval %s: must not be negative", *interval)
	}
	cfg := node.Config{
		Params:        params,
		DataDir:       dataDir,
		Mine:          *mine || *gpu,
		BlockInterval: *interval,
	}
	if err := hash.validate(*gpu); err != nil {
		return err
	}
	if cfg.Mine {
		// Devices open last: a GPU program build takes seconds, flags take none.
		if cfg.Devices, err = hash.open(*gpu); err != nil {
			return err
		}
	}
	if *address != "" {
		a, err := chain.ParseAddress(*address)
		if err != nil {
			return usagef("--address: %v", err)
		}
		cfg.Address = &a
	}
	if *httpPort != 0 {
		cfg.HTTPAddr = net.JoinHostPort(*httpAddr, strconv.Itoa(int(*httpPort)))
	}
	return node.Run(ctx, cfg, log)
}
