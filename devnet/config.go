// Package devnet runs a local network of node processes for experiments:
// it starts them joined together, shows their state in a table, serves a
// manager API over HTTP (list, mine, add, stop, shut down) and stops them all.
//
// Node i listens for peers on 127.0.0.1:P+i and serves HTTP on
// 127.0.0.1:P+100+i, keeps its datadir in D/node<i> and joins a node started
// before it, so the nodes form one network.
package devnet

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashforge/hashforge/chain"
)

const (
	MaxNodes      = 64  // below HTTPOffset: P2P, HTTP and Stratum ports never overlap
	HTTPOffset    = 100 // node i's HTTP port is its P2P port + 100
	StratumOffset = 200 // node i's Stratum port is its P2P port + 200

	// A node slower than pollWait to answer shows as not answering.
	pollWait = 700 * time.Millisecond
	// startWait is how long a node may take to serve HTTP before the next
	// one starts.
	startWait = 5 * time.Second
	// stopGrace: after SIGINT, a node still running this long is killed.
	stopGrace = 5 * time.Second
)

// Config describes a devnet.
type Config struct {
	Exe      string // the miner binary each node runs
	Nodes    int    // how many start with the network
	Mine     bool
	BasePort int // node 0's P2P port
	Dir      string
	Network  *chain.Params
	Threads  int // CPU hashing threads of each mining node
	// Interval is the least time between blocks a mining node mines;
	// negative leaves the default: 1 s a node on regtest, the node's own
	// (unpaced) on devnet.
	Interval  time.Duration
	LogFormat string
	// Token is the nodes' API token: each node gets it through its
	// environment and the manager sends it. Without one, the manager sends
	// what each node's cookie file holds.
	Token string
	// HTTP is the port of the manager API on 127.0.0.1; 0 serves none.
	HTTP  int
	Extra []string // more flags for every node
}

// Check refuses a configuration that cannot start, before anything is touched.
func (c *Config) Check() error {
	last := c.BasePort + StratumOffset + MaxNodes - 1
	switch {
	case c.Nodes < 1 || c.Nodes > MaxNodes:
		return fmt.Errorf("--nodes %d: want 1 to %d", c.Nodes, MaxNodes)
	case c.BasePort < 1 || c.BasePort > 65535 || c.BasePort+StratumOffset+c.Nodes-1 > 65535: // the middle test keeps the sum from overflowing
		return fmt.Errorf("--base-port %d: %d nodes need ports %d to %d, beyond 65535 or below 1",
			c.BasePort, c.Nodes, c.BasePort, c.BasePort+StratumOffset+c.Nodes-1)
	case c.HTTP < 0 || c.HTTP > 65535:
		return fmt.Errorf("--http %d: want a port, 1 to 65535", c.HTTP)
	case c.HTTP >= c.BasePort && c.HTTP <= last && (c.HTTP-c.BasePort)%HTTPOffset < MaxNodes:
		return fmt.Errorf("--http %d: a node's port (nodes take %d+i, %d+i and %d+i)", c.HTTP, c.BasePort, c.BasePort+HTTPOffset, c.BasePort+StratumOffset)
	case c.Dir == "":
		return errors.New("--dir must not be empty")
	case c.Threads < 0:
		return fmt.Errorf("--threads %d: want 0 (all cores) or more", c.Threads)
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	case c.Network == nil:
		return errors.New("no network")
	}
	return nil
}

func (c *Config) p2pPort(i int) int  { return c.BasePort + i }
func (c *Config) httpPort(i int) int { return c.BasePort + HTTPOffset + i }

// stratumPort is node i's Stratum port: each node of a devnet serves miners
// on its own, where the network's default would have them all take one.
func (c *Config) stratumPort(i int) int { return c.BasePort + StratumOffset + i }
func (c *Config) p2pAddr(i int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.p2pPort(i)))
}
func (c *Config) httpAddr(i int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.httpPort(i)))
}
func (c *Config) nodeDir(i int) string { return filepath.Join(c.Dir, "node"+strconv.Itoa(i)) }

// interval is the block interval mining nodes are given, negative for none.
func (c *Config) interval() time.Duration {
	if c.Interval < 0 && c.Network == chain.Regtest {
		// Regtest solves a block in a few hashes, so pacing alone sets the
		// block rate. The node's own 200ms, times N miners, would make forks
		// between near-simultaneous blocks common and the table a blur; 1s a
		// node still grows the chain every second or faster while the nodes
		// mostly agree on their tip whenever the table looks.
		return time.Second
	}
	return c.Interval
}

// nodeArgs are node i's command line; peer is the node it joins, -1 for none.
func (c *Config) nodeArgs(i, peer int) []string {
	args := []string{
		"--network", c.Network.Name,
		"--datadir", c.nodeDir(i),
		"--port", strconv.Itoa(c.p2pPort(i)), "--p2p-addr", "127.0.0.1",
		"--http", strconv.Itoa(c.httpPort(i)), "--http-addr", "127.0.0.1",
		"--stratum-port", strconv.Itoa(c.stratumPort(i)), "--stratum-addr", "127.0.0.1",
		"--log-format", c.LogFormat,
		// Pings carry the tip, so frequent ones keep each node's view of its
		// peers' tips, and the table's agreement column, current; a consensus
		// round every 10 s puts agreement in the logs too.
		"--ping-interval", "2s", "--consensus-interval", "10s",
	}
	if peer >= 0 {
		args = append(args, "--peer", c.p2pAddr(peer))
	}
	if c.Mine {
		args = append(args, "--mine", "--threads", strconv.Itoa(c.Threads))
		if iv := c.interval(); iv >= 0 {
			args = append(args, "--block-interval", iv.String())
		}
	}
	return append(args, c.Extra...)
}

// mining says in words how the nodes mine, for the banner.
func (c *Config) mining() string {
	if !c.Mine {
		return "not mining"
	}
	threads := strconv.Itoa(c.Threads) + " thread"
	if c.Threads != 1 {
		threads += "s"
	}
	if c.Threads == 0 {
		threads = "all cores"
	}
	s := "mining (" + threads + " each"
	if iv := c.interval(); iv > 0 {
		s += fmt.Sprintf(", a block a node at most every %s", iv)
	}
	return s + ")"
}
