package main

import (
	"math"
	"net"
	"strconv"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/node"
	"github.com/hashforge/hashforge/stratum"
)

// stratumFlags are the Stratum server's flags.
type stratumFlags struct {
	fs       *flag.FlagSet
	port     uint16
	addr     string
	payout   string
	cfg      stratum.ServerConfig
	interval time.Duration
}

func addStratumFlags(fs *flag.FlagSet) *stratumFlags {
	s := &stratumFlags{fs: fs}
	d := stratum.DefaultServerConfig()
	fs.Uint16Var(&s.port, "stratum-port", 0, "Stratum v1 port for standard miners to mine for this node, 0 = off (default 3333 on devnet, 13333 on regtest)")
	fs.StringVar(&s.addr, "stratum-addr", "127.0.0.1", "address the Stratum port binds to")
	fs.StringVar(&s.payout, "stratum-payout", "worker", "whom Stratum blocks pay: worker (the address each miner authorised with) or node (--address, or the node's key)")
	fs.DurationVar(&s.interval, "stratum-share-interval", d.ShareInterval, "time between a Stratum miner's shares that its difficulty is steered to")
	fs.Float64Var(&s.cfg.StartDifficulty, "stratum-start-difficulty", d.StartDifficulty, "a Stratum miner's share difficulty until its shares steer it")
	fs.Float64Var(&s.cfg.MinDifficulty, "stratum-min-difficulty", d.MinDifficulty, "least share difficulty")
	fs.Float64Var(&s.cfg.MaxDifficulty, "stratum-max-difficulty", d.MaxDifficulty, "most share difficulty (a share at the block's difficulty is always a block)")
	fs.IntVar(&s.cfg.MaxConns, "stratum-max-conns", d.MaxConns, "most Stratum connections open at once")
	fs.IntVar(&s.cfg.MaxPerHost, "stratum-max-per-host", d.MaxPerHost, "most Stratum connections from one IP address")
	return s
}

// apply checks the flags and sets the node's Stratum server from them;
// params gives the default port.
func (s *stratumFlags) apply(cfg *node.Config, params *chain.Params) error {
	if !s.fs.Changed("stratum-port") {
		s.port = params.StratumPort
	}
	switch s.payout {
	case "worker":
	case "node":
		cfg.StratumPaysNode = true
	default:
		return usagef("--stratum-payout %q: want worker or node", s.payout)
	}
	c := s.cfg
	if s.interval <= 0 || !(c.MinDifficulty > 0) || !(c.StartDifficulty > 0) || c.MaxDifficulty < c.MinDifficulty ||
		math.IsInf(c.MaxDifficulty, 0) || c.StartDifficulty < c.MinDifficulty || c.StartDifficulty > c.MaxDifficulty {
		return usagef("--stratum-share-interval must be positive, and 0 < --stratum-min-difficulty <= --stratum-start-difficulty <= --stratum-max-difficulty (finite)")
	}
	if c.MaxConns < 1 || c.MaxPerHost < 1 {
		return usagef("--stratum-max-conns and --stratum-max-per-host must be at least 1")
	}
	c.ShareInterval = s.interval
	cfg.Stratum = c
	if s.port != 0 {
		cfg.StratumAddr = net.JoinHostPort(s.addr, strconv.Itoa(int(s.port)))
	}
	return nil
}

// poolFlags are the flags of mining for a pool.
type poolFlags struct {
	cfg stratum.ClientConfig
}

func addPoolFlags(fs *flag.FlagSet) *poolFlags {
	p := &poolFlags{}
	fs.StringArrayVar(&p.cfg.Pools, "pool", nil, "mine for a Stratum pool, stratum+tcp://HOST:PORT, instead of this node's chain (repeatable: failover in order)")
	fs.StringVar(&p.cfg.User, "pool-user", "", "worker name the pool credits, often ADDRESS.WORKER (default: the address the coinbase would pay)")
	fs.StringVar(&p.cfg.Pass, "pool-pass", "x", "password the pool asks for")
	fs.DurationVar(&p.cfg.Recheck, "pool-recheck", time.Minute, "how often, mining for a backup pool, the pools ahead of it are checked")
	return p
}

// apply checks the flags and sets the node's pool from them; gpu is -c,
// mine -m: mining for a pool needs one of them.
func (p *poolFlags) apply(cfg *node.Config) error {
	if len(p.cfg.Pools) == 0 {
		return nil
	}
	if !cfg.Mine {
		return usagef("--pool: give -m (or -c) to mine for it")
	}
	if p.cfg.Recheck <= 0 {
		return usagef("--pool-recheck %s: must be positive", p.cfg.Recheck)
	}
	check := p.cfg
	if check.User == "" {
		check.User = "node" // the node's address, known once it runs
	}
	if _, err := stratum.NewClient(check, nil); err != nil {
		return usagef("--pool: %v", err)
	}
	cfg.Pool = p.cfg
	return nil
}
