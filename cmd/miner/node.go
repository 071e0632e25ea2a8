package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hashforge/hashforge/api"
	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/mempool"
	"github.com/hashforge/hashforge/node"
	"github.com/hashforge/hashforge/p2p"
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
	port := fs.Uint16P("port", "p", 0, "P2P port, 0 = accept no peers (default 8999 on devnet, 18999 on regtest)")
	p2pAddr := fs.String("p2p-addr", "0.0.0.0", "address the P2P port binds to")
	peers := fs.StringArrayP("peer", "k", nil, "peer to join, host:port (repeatable)")
	maxPeers := fs.Int("max-peers", 32, "most inbound peers (outbound peers: 8 at most)")
	pingInterval := fs.Duration("ping-interval", 30*time.Second, "how often peers are pinged")
	peerTimeout := fs.Duration("peer-timeout", 60*time.Second, "a peer silent this long is dropped")
	roundInterval := fs.Duration("consensus-interval", 60*time.Second, "how often every peer's tip is compared with ours")
	httpPort := fs.Uint16P("http", "i", 0, "HTTP port for the API and metrics, 0 = off (default 8001 on devnet, 18001 on regtest)")
	httpAddr := fs.String("http-addr", "127.0.0.1", "address the HTTP server binds to; beyond loopback it needs --api-token")
	httpHosts := fs.StringArray("http-host", nil, "a name, beyond the --http-addr host and localhost, that requests may call the node by (repeatable; * for any)")
	httpTimeout := fs.Duration("http-timeout", node.DefaultHTTPTimeout, "most time an HTTP client may take to send a request or read an answer, and keep a connection idle")
	httpMaxConns := fs.Int("http-max-conns", node.DefaultHTTPMaxConns, "most HTTP connections open at once; more wait to be accepted")
	var apiToken string
	addTokenFlag(fs, &apiToken, "bearer token every API write (POST) must carry; random when not given, and in <datadir>/"+apiclient.CookieFile+" while the node runs")
	network := addNetworkFlags(fs)
	address := fs.String("address", "", "address the coinbase pays (default: the node's own key in the datadir)")
	tempLimit := fs.Float64("gpu-temp-limit", 0, "pause a GPU at this temperature in °C until it cools 5 below (needs NVML); 0 = no limit")
	interval := fs.Duration("block-interval", 0, "least time between mined blocks, 0 = unpaced (default 200ms on regtest, 0 on devnet)")
	poolDefaults := mempool.DefaultConfig()
	minFeeRate := fs.Uint64("min-fee-rate", poolDefaults.MinFeeRate, "least fee, in units per byte, of a transaction the mempool admits and relays")
	poolSize := fs.Int("mempool-size", poolDefaults.MaxBytes>>20, "mempool cap in MiB; beyond it the lowest fee rates are evicted")
	poolExpiry := fs.Duration("mempool-expiry", poolDefaults.Expiry, "a transaction unconfirmed this long leaves the mempool")
	poolSave := fs.Duration("mempool-save-interval", time.Minute, "how often pending transactions are saved to mempool.dat in the datadir (and at shutdown), for the next start")
	stratumServer := addStratumFlags(fs)
	poolClient := addPoolFlags(fs)
	logs := addLogFlags(fs)
	config := addConfigFlags(fs)
	if err := parseArgs(fs, args, 1); err != nil {
		return err
	}
	if err := config.load(); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		// The original tool took "-k host port": say how it is written here.
		if n := len(*peers); n > 0 && !strings.Contains((*peers)[n-1], ":") && isPort(fs.Arg(0)) {
			return usagef("--peer %s %s: write host:port, as in -k %s:%s", (*peers)[n-1], fs.Arg(0), (*peers)[n-1], fs.Arg(0))
		}
		return usagef("unexpected argument %q", fs.Arg(0))
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
		host, port, err := net.SplitHostPort(p)
		if err != nil || host == "" {
			return usagef("--peer %q: want host:port", p)
		}
		if !isPort(port) {
			return usagef("--peer %q: port %q is not 1 to 65535", p, port)
		}
	}
	if *maxPeers < 0 || *pingInterval <= 0 || *peerTimeout <= 0 || *roundInterval <= 0 {
		return usagef("--max-peers must not be negative; --ping-interval, --peer-timeout and --consensus-interval must be positive")
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
	if *tempLimit < 0 || *tempLimit > 120 {
		return usagef("--gpu-temp-limit %v: want 0 (none) or a temperature up to 120 °C", *tempLimit)
	}
	if *httpTimeout <= 0 || *httpMaxConns < 1 {
		return usagef("--http-timeout must be positive and --http-max-conns at least 1")
	}
	if *poolSize < 1 || *poolExpiry <= 0 || *poolSave <= 0 {
		return usagef("--mempool-size must be at least 1 (MiB); --mempool-expiry and --mempool-save-interval positive")
	}
	cfg := node.Config{
		Params:        params,
		DataDir:       dataDir,
		Version:       buildVersion(),
		APIToken:      apiToken,
		HTTPHosts:     *httpHosts,
		HTTPTimeout:   *httpTimeout,
		HTTPMaxConns:  *httpMaxConns,
		Mine:          *mine || *gpu,
		BlockInterval: *interval,
		Mempool:       mempool.Config{MinFeeRate: *minFeeRate, MaxBytes: *poolSize << 20, Expiry: *poolExpiry},

		MempoolSaveInterval: *poolSave,
	}
	if err := hash.validate(*gpu); err != nil {
		return err
	}
	if err := stratumServer.apply(&cfg, params); err != nil {
		return err
	}
	if err := poolClient.apply(&cfg); err != nil {
		return err
	}
	if *httpPort != 0 {
		cfg.HTTPAddr = net.JoinHostPort(*httpAddr, strconv.Itoa(int(*httpPort)))
		if err := api.CheckExposure(cfg.HTTPAddr, apiToken); err != nil {
			return usagef("--http-addr: %v (set --api-token)", err)
		}
	}
	if *address != "" {
		a, err := chain.ParseAddress(*address)
		if err != nil {
			return usagef("--address: %v", err)
		}
		cfg.Address = &a
	}
	if config.print {
		// The flags are checked; port, http and block-interval hold what
		// the network gives them, and datadir is filled in the same way.
		if !fs.Changed("datadir") {
			network.dataDir = dataDir
		}
		return config.printTo(stdout)
	}
	// The CPU device opens with a lane per core at least, so POST
	// /api/mining can raise the threads up to that without a restart.
	cfg.Threads = hash.Threads
	cfg.GPUTempLimit = *tempLimit
	if cfg.Threads == 0 {
		cfg.Threads = runtime.NumCPU()
	}
	hash.Threads = max(cfg.Threads, runtime.NumCPU())
	// The node opens the devices after the flags are checked: a GPU program
	// build takes seconds, flags take none. A node that does not mine opens
	// them too, idle, so mining can start through the API.
	cfg.OpenDevices = func() ([]hasher.Device, error) { return hash.open(*gpu) }
	cfg.P2P = p2p.DefaultConfig()
	if *port != 0 {
		cfg.P2P.Listen = net.JoinHostPort(*p2pAddr, strconv.Itoa(int(*port)))
	}
	cfg.P2P.Connect = *peers
	cfg.P2P.MaxInbound = *maxPeers
	cfg.P2P.PingInterval, cfg.P2P.IdleTimeout, cfg.P2P.ConsensusInterval = *pingInterval, *peerTimeout, *roundInterval
	return node.Run(ctx, cfg, log)
}

// isPort reports whether s is a TCP port number, 1 to 65535.
func isPort(s string) bool {
	n, err := strconv.ParseUint(s, 10, 16)
	return err == nil && n > 0
}
