// Package node builds the parts of one node (store, chain, miner, HTTP) and
// runs them: start-up in dependency order, graceful shutdown in reverse. It
// owns what must not leak: the hashing devices, opened and closed here on
// every path, and the node's key, which the API only signs through.
package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashforge/hashforge/api"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/mempool"
	"github.com/hashforge/hashforge/miner"
	"github.com/hashforge/hashforge/p2p"
	"github.com/hashforge/hashforge/store"
	"github.com/hashforge/hashforge/stratum"
	"github.com/hashforge/hashforge/wallet"
)

// Config describes one node.
type Config struct {
	Params  *chain.Params
	DataDir string

	// Mine starts hashing at once; without it the miner waits, idle, for
	// POST /api/mining.
	Mine bool
	// OpenDevices opens the hashing devices, all or none; nil, or none
	// opened: the node cannot mine. Run calls it at start-up, before the
	// datadir is touched, and closes what it opened however Run ends.
	OpenDevices func() ([]hasher.Device, error)
	Threads     int // CPU hashing threads; 0 uses every lane of the CPU devices
	// GPUTempLimit pauses a device that reports its temperature (CUDA with
	// NVML) at this many °C until it cools 5 below; 0: no limit.
	GPUTempLimit  float64
	Address       *chain.Address // coinbase address; nil uses the node's own key
	BlockInterval time.Duration

	HTTPAddr string // host:port of the HTTP server; empty for none
	APIToken string // bearer token of API writes; needed beyond loopback, random when empty
	Version  string // shown by the API and metrics

	// HTTPHosts are names, beyond HTTPAddr's host and localhost, that
	// requests may call the node by (a proxy's or the LAN's name).
	HTTPHosts []string
	// HTTPTimeout bounds the time a client may take to send a request, to
	// read an answer, and to leave a kept-alive connection idle; 0 is
	// DefaultHTTPTimeout. Event streams outlive it.
	HTTPTimeout time.Duration
	// HTTPMaxConns bounds the HTTP connections open at once; more wait to
	// be accepted. 0 is DefaultHTTPMaxConns.
	HTTPMaxConns int

	// StratumAddr is host:port of the Stratum server, for standard miners
	// to mine for this node; empty for none. Stratum sets it up.
	StratumAddr string
	Stratum     stratum.ServerConfig
	// StratumPaysNode has Stratum blocks pay Address (or the node's key)
	// instead of the address each worker authorised with.
	StratumPaysNode bool
	// Pool, when it names pools, has the devices mine for the first pool
	// that answers instead of for the chain: the node's blocks are the
	// pool's to find.
	Pool stratum.ClientConfig

	P2P     p2p.Config
	Mempool mempool.Config
	// MempoolSaveInterval is how often the pending transactions are saved
	// to mempool.dat in the datadir, for the next start; they are saved at
	// shutdown too. Zero: every minute.
	MempoolSaveInterval time.Duration
}

// sigCacheSize is how many verified transfers the node remembers: more
// than a full mempool's worth of small ones is not needed, as a transfer is
// checked again only when its block arrives after it left the cache.
const sigCacheSize = 200_000

// KeyFile holds the node's own ed25519 key inside its datadir: the seed as hex.
const KeyFile = "node.key"

// Run runs a node until ctx ends, then shuts it down.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if cfg.HTTPAddr != "" {
		if err := api.CheckExposure(cfg.HTTPAddr, cfg.APIToken); err != nil {
			return err
		}
	}
	var devices []hasher.Device
	if cfg.OpenDevices != nil {
		var err error
		if devices, err = cfg.OpenDevices(); err != nil {
			return err
		}
	}
	// Deferred calls run last first: devices close after everything below
	// has stopped, once no lane searches on them.
	defer func() {
		if err := hasher.CloseAll(devices); err != nil {
			log.Error("close hashing devices", "err", err)
		}
	}()
	if cfg.Mine && len(devices) == 0 {
		return errors.New("mining needs at least one hashing device")
	}
	st, err := openStore(cfg)
	if err != nil {
		return store.Advise(err, cfg.Params.Name, cfg.DataDir)
	}
	defer st.Close()
	// The chain skips the signature checks the mempool made: a block's
	// transfers were mostly admitted to the pool first.
	sigs := chain.NewSigCache(sigCacheSize)
	ch, err := chain.New(cfg.Params, st, log, chain.WithSigCache(sigs))
	if err != nil {
		return err
	}
	tip := ch.Tip()
	log.Info("chain loaded", "network", cfg.Params.Name, "datadir", cfg.DataDir, "height", tip.Height, "tip", tip.Hash)

	// cancel runs before wg.Wait, or an error return after the miner
	// started (an HTTP port in use) waits forever.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	key, err := wallet.LoadOrCreateKey(filepath.Join(cfg.DataDir, KeyFile))
	if err != nil {
		return err
	}
	signer := wallet.NewSigner(key, cfg.Params)
	cfg.Mempool.SigCache = sigs
	pool := mempool.New(ch, cfg.Mempool, log)
	poolFile := filepath.Join(cfg.DataDir, mempool.FileName)
	pool.Load(poolFile)
	wg.Go(func() { pool.Run(ctx) })
	wg.Go(func() { pool.Persist(ctx, poolFile, cmp.Or(cfg.MempoolSaveInterval, time.Minute)) })

	var poolClient *stratum.Client
	if len(cfg.Pool.Pools) > 0 {
		if len(devices) == 0 {
			return errors.New("mining for a pool needs at least one hashing device")
		}
		if cfg.Pool.User == "" {
			self := signer.Address()
			cfg.Pool.User = cmp.Or(cfg.Address, &self).String()
		}
		if poolClient, err = stratum.NewClient(cfg.Pool, log); err != nil {
			return err
		}
		wg.Go(func() { poolClient.Run(ctx) })
	}
	var m *miner.Miner
	if len(devices) > 0 {
		if m, err = newMiner(cfg, devices, ch, pool, poolClient, signer.Address(), log); err != nil {
			return err
		}
		wg.Go(func() { m.Run(ctx) })
	}
	var stratumSrv *stratum.Server
	if cfg.StratumAddr != "" {
		// The miner's templates when there is a miner: one transaction
		// selection for both.
		var templates *miner.Templates
		if m != nil {
			templates = m.Templates()
		} else {
			templates = miner.NewTemplates(ch, pool, log)
		}
		if cfg.StratumPaysNode {
			self := signer.Address()
			cfg.Stratum.PayTo = cmp.Or(cfg.Address, &self)
		}
		if stratumSrv, err = serveStratum(ctx, &wg, cfg, ch, templates, log); err != nil {
			return err
		}
	}

	cfg.P2P.BanFile = filepath.Join(cfg.DataDir, p2p.BanFileName)
	peers := p2p.New(cfg.P2P, ch, pool, st, log)
	if err := peers.LoadBans(); err != nil {
		return err
	}
	ln, err := peers.Listen()
	if err != nil {
		return err
	}
	wg.Go(func() { peers.Run(ctx, ln) })

	if cfg.HTTPAddr != "" {
		parts := api.Config{Chain: ch, Peers: peers, Pool: pool, Signer: signer,
			Version: cfg.Version, Storage: &dirProbe{dir: cfg.DataDir}}
		// Interfaces holding a nil pointer would not be nil.
		if m != nil {
			parts.Miner = m
		}
		if stratumSrv != nil {
			parts.Stratum = stratumSrv
		}
		if poolClient != nil {
			parts.PoolClient = poolClient
		}
		err := serveHTTP(ctx, &wg, cfg, parts, log)
		if err != nil {
			return err
		}
	}

	<-ctx.Done()
	log.Info("shutting down")
	// The last save comes once every part has stopped, so no transaction
	// the API or a peer handed in is admitted after it.
	wg.Wait()
	if n, err := pool.Save(poolFile); err != nil {
		log.Error("mempool not saved", "file", poolFile, "err", err)
	} else {
		log.Info("mempool saved", "file", poolFile, "transactions", n)
	}
	return nil
}

// serveStratum serves Stratum miners on cfg.StratumAddr until ctx ends,
// with jobs from templates and their blocks into ch.
func serveStratum(ctx context.Context, wg *sync.WaitGroup, cfg Config, ch *chain.Chain, templates *miner.Templates, log *slog.Logger) (*stratum.Server, error) {
	ln, err := net.Listen("tcp", cfg.StratumAddr)
	if err != nil {
		return nil, fmt.Errorf("stratum: %w", err)
	}
	sc := cfg.Stratum
	sc.MaxFutureTime = cfg.Params.MaxFutureTime
	srv := stratum.NewServer(sc, ch, templates, log)
	payout := "the worker's address"
	if sc.PayTo != nil {
		payout = sc.PayTo.String()
	}
	log.Info("stratum listening", "addr", "stratum+tcp://"+ln.Addr().String(), "payout", payout)
	wg.Go(func() {
		if err := srv.Serve(ctx, ln); err != nil {
			log.Error("stratum server stopped", "err", err)
		}
	})
	return srv, nil
}

// openStore opens the datadir's store. A node key there shows that a node
// ran and kept its chain there: if chain.db is gone, opening the store would
// quietly start a new chain from genesis in its place.
func openStore(cfg Config) (*store.Store, error) {
	_, keyErr := os.Stat(filepath.Join(cfg.DataDir, KeyFile))
	path := filepath.Join(cfg.DataDir, store.FileName)
	if _, err := os.Stat(path); keyErr == nil && errors.Is(err, fs.ErrNotExist) {
		return nil, &store.DamageError{Path: path, Problems: []string{"the file is missing, though " + KeyFile + " shows a node kept its chain here"}}
	}
	return store.Open(cfg.DataDir, false)
}

// newMiner builds the miner on the devices; its coinbase pays cfg.Address,
// or the node's own address self.
func newMiner(cfg Config, devices []hasher.Device, ch *chain.Chain, pool *mempool.Pool, client *stratum.Client, self chain.Address, log *slog.Logger) (*miner.Miner, error) {
	addr := cfg.Address
	if addr == nil {
		addr = &self
	}
	for _, d := range devices {
		info := d.Info()
		attrs := []any{"device", info.ID(), "name", info.Name}
		if info.Threads > 0 {
			attrs = append(attrs, "threads", info.Threads)
		}
		log.Info("hashing device", attrs...)
	}
	sched := hasher.NewScheduler(devices, log)
	sched.SetTempLimit(cfg.GPUTempLimit)
	if cfg.Threads > 0 {
		if err := sched.SetThreads(cfg.Threads); err != nil && !errors.Is(err, hasher.ErrNoCPU) {
			return nil, err
		}
	}
	threads, _ := sched.Threads()
	mc := miner.Config{Address: *addr, BlockInterval: cfg.BlockInterval, Idle: !cfg.Mine}
	if client != nil {
		mc.Pool = client
		log.Info("miner", "mining", cfg.Mine, "for", cfg.Pool.Pools, "user", cfg.Pool.User, "cpu_threads", threads)
	} else {
		log.Info("miner", "mining", cfg.Mine, "address", addr.String(), "block_interval", cfg.BlockInterval, "cpu_threads", threads)
	}
	return miner.New(ch, pool, sched, mc, log), nil
}
