package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/internal/atomicfile"
	"github.com/hashforge/hashforge/internal/tty"
)

// Errors of requests to a running network; the manager answers each with
// its own status code.
var (
	errNoNode   = errors.New("no such node")
	errFull     = errors.New("no room for another node")
	errStopping = errors.New("the network is shutting down")
)

// network is a running devnet: its nodes, shared by the table and the
// manager API.
type network struct {
	cfg    Config
	client *http.Client
	stop   context.CancelFunc // ends Run, as Ctrl-C does
	halted chan struct{}      // closed once every node has been stopped

	mu      sync.Mutex
	nodes   []*node
	closing bool  // no node may be added any more
	mining  *bool // what the manager last told every node, nil before
}

// nodeState is a node as one poll found it.
type nodeState struct {
	index int
	// state is "up", "starting" (not yet answered), "no answer", "down"
	// (it ended by itself) or "stopped" (by the manager).
	state string
	id    *chain.Address    // nil until the node has answered once
	st    *apiclient.Status // nil without an answer now
	err   error             // how a node that is down ended
}

// Run starts a network as cfg (which must pass Check) describes, prints
// its table to stdout every second and, with cfg.HTTP, serves the manager
// API, until ctx ends or the manager is told to shut down; then it stops
// every node and returns.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nw := &network{
		cfg: cfg, client: &http.Client{Timeout: pollWait}, stop: cancel, halted: make(chan struct{}),
	}
	defer nw.client.CloseIdleConnections()
	if err := cfg.portsFree(0, cfg.Nodes); err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	if err := cfg.WriteTargets(cfg.Nodes); err != nil {
		return fmt.Errorf("devnet: write Prometheus targets: %w", err)
	}
	var srv *http.Server
	if cfg.HTTP != 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.HTTP)))
		if err != nil {
			return fmt.Errorf("devnet: manager API: %w", err)
		}
		srv = &http.Server{Handler: nw.handler(), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
	}

	fmt.Fprintf(stdout, "devnet: %d %s nodes, %s; P2P ports %d-%d, HTTP ports %d-%d, Stratum ports %d-%d on 127.0.0.1\n",
		cfg.Nodes, cfg.Network.Name, cfg.mining(), cfg.p2pPort(0), cfg.p2pPort(cfg.Nodes-1), cfg.httpPort(0), cfg.httpPort(cfg.Nodes-1),
		cfg.stratumPort(0), cfg.stratumPort(cfg.Nodes-1))
	fmt.Fprintf(stdout, "devnet: datadirs and logs in %s; Prometheus file_sd targets in %s\n",
		filepath.Join(cfg.Dir, "node<i>", "node.log"), cfg.targetsPath())
	if srv != nil {
		fmt.Fprintf(stdout, "devnet: manager API on http://127.0.0.1:%d (GET /nodes, POST /mining, /nodes, /nodes/{i}/stop, /shutdown)\n", cfg.HTTP)
	}
	fmt.Fprintf(stdout, "devnet: Ctrl-C stops every node\n")

	var startErr error
	for range cfg.Nodes {
		n, err := nw.spawn()
		if err != nil {
			startErr = fmt.Errorf("devnet: %w", err)
			break
		}
		// The next node dials this one at once: wait until it serves HTTP,
		// which it does only after its P2P port listens, so the first dial
		// lands instead of backing off for seconds.
		n.waitUp(ctx)
		if ctx.Err() != nil {
			break
		}
	}
	if startErr == nil {
		nw.show(ctx, stdout)
	}

	t0 := time.Now()
	nw.mu.Lock()
	nw.closing = true
	nodes := slices.Clone(nw.nodes)
	nw.mu.Unlock()
	running := 0
	for _, n := range nodes {
		if !n.exited() {
			running++
		}
	}
	killed := stopNodes(nodes)
	close(nw.halted)
	if srv != nil {
		// The answer to POST /shutdown waits for halted; give it time to go out.
		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		srv.Shutdown(sctx)
		scancel()
	}
	for _, n := range nodes {
		if n.err != nil && !(n.killed.Load() && startErr == nil) {
			fmt.Fprintf(stderr, "devnet: node%d ended: %v (see %s)\n", n.index, n.err, filepath.Join(cfg.nodeDir(n.index), "node.log"))
		}
	}
	if startErr != nil {
		return startErr
	}
	final := fmt.Sprintf("devnet: stopped %d running nodes in %s", running, time.Since(t0).Round(time.Millisecond))
	if killed > 0 {
		final += fmt.Sprintf(", %d killed after %s without exiting", killed, stopGrace)
	}
	fmt.Fprintf(stdout, "%s; datadirs and logs kept in %s\n", final, cfg.Dir)
	return nil
}

// spawn starts the next node, joined to the newest node still running, and
// rewrites the Prometheus targets to list it.
func (nw *network) spawn() (*node, error) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	i := len(nw.nodes)
	switch {
	case nw.closing:
		return nil, errStopping
	case i >= MaxNodes || nw.cfg.stratumPort(i) > 65535:
		return nil, fmt.Errorf("%w: node%d would need port %d", errFull, i, nw.cfg.stratumPort(i))
	}
	if err := nw.cfg.portsFree(i, i+1); err != nil {
		return nil, fmt.Errorf("start node %d: %w", i, err)
	}
	peer := -1
	for j := i - 1; j >= 0 && peer < 0; j-- {
		if !nw.nodes[j].exited() {
			peer = j
		}
	}
	n, err := nw.cfg.start(nw.client, i, peer)
	if err != nil {
		return nil, fmt.Errorf("start node %d: %w", i, err)
	}
	nw.nodes = append(nw.nodes, n)
	if err := nw.cfg.WriteTargets(len(nw.nodes)); err != nil {
		return n, fmt.Errorf("node %d started, but its Prometheus target was not written: %w", i, err)
	}
	return n, nil
}

// add starts a node as spawn does and waits for it to answer; told to
// mine or not through the manager, the network's nodes all do alike, so
// the new one is told too.
func (nw *network) add(ctx context.Context) (*node, error) {
	n, err := nw.spawn()
	if err != nil {
		return nil, err
	}
	n.waitUp(ctx)
	nw.mu.Lock()
	mining := nw.mining
	nw.mu.Unlock()
	if mining != nil {
		if _, err := n.api.SetMining(ctx, *mining); err != nil {
			return n, fmt.Errorf("node%d started, but did not take the mining setting: %w", n.index, err)
		}
	}
	return n, nil
}

// node returns node i.
func (nw *network) node(i int) (*node, error) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if i < 0 || i >= len(nw.nodes) {
		return nil, fmt.Errorf("%w: node%d (the network has node0 to node%d)", errNoNode, i, len(nw.nodes)-1)
	}
	return nw.nodes[i], nil
}

// stopNode stops node i through the manager and waits for it to end.
func (nw *network) stopNode(i int) (*node, error) {
	n, err := nw.node(i)
	if err != nil {
		return nil, err
	}
	if !n.exited() {
		n.stopped.Store(true)
		stopNodes([]*node{n})
	}
	return n, nil
}

// setMining starts or stops hashing on every running node, through each
// node's own API.
func (nw *network) setMining(ctx context.Context, enabled bool) error {
	nw.mu.Lock()
	nodes := slices.Clone(nw.nodes)
	nw.mining = &enabled
	nw.mu.Unlock()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		if n.exited() {
			continue
		}
		wg.Go(func() {
			if _, err := n.api.SetMining(ctx, enabled); err != nil {
				errs[i] = fmt.Errorf("node%d: %w", n.index, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// poll asks the given nodes, every node when nil, for their status at once.
func (nw *network) poll(ctx context.Context, nodes []*node) []nodeState {
	if nodes == nil {
		nw.mu.Lock()
		nodes = slices.Clone(nw.nodes)
		nw.mu.Unlock()
	}
	out := make([]nodeState, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		if !n.exited() {
			wg.Go(func() { out[i].st, _ = n.api.Status(ctx) })
		}
	}
	wg.Wait()
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for i, n := range nodes {
		s := &out[i]
		s.index = n.index
		if s.st != nil {
			id := s.st.NodeID
			n.id, n.seen = &id, true
		}
		s.id = n.id
		switch {
		case n.exited() && n.stopped.Load():
			s.state = "stopped"
		case n.exited():
			s.state, s.err = "down", n.err
		case s.st != nil:
			s.state = "up"
		case n.seen:
			s.state = "no answer"
		default:
			s.state = "starting"
		}
	}
	return out
}

// show prints the table every second until ctx ends: redrawn in place on a
// terminal, appended otherwise, each table ending with a blank line.
func (nw *network) show(ctx context.Context, stdout io.Writer) {
	redraw := tty.Is(stdout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		states := nw.poll(ctx, nil)
		if ctx.Err() != nil {
			return
		}
		var buf bytes.Buffer
		if redraw {
			buf.WriteString("\x1b[H\x1b[2J") // home, clear screen
		}
		nw.cfg.render(&buf, states, time.Now())
		if redraw {
			fmt.Fprintf(&buf, "\nlogs: %s · Prometheus targets: %s · Ctrl-C stops every node\n",
				filepath.Join(nw.cfg.Dir, "node<i>", "node.log"), nw.cfg.targetsPath())
		} else {
			buf.WriteString("\n")
		}
		stdout.Write(buf.Bytes())
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// targetsPath is the devnet's Prometheus file_sd targets file.
func (c *Config) targetsPath() string { return filepath.Join(c.Dir, "targets.json") }

// WriteTargets writes the HTTP addresses of nodes [0, count), and of
// c.Nodes at least, to D/targets.json as a Prometheus file_sd target group,
// without labels: the job that reads it names them, and each node's
// miner_info carries its network. It writes a temporary file and renames
// it over the old one, so Prometheus, which rereads the file when it
// changes, never reads half.
func (c *Config) WriteTargets(count int) error {
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	g := group{Labels: map[string]string{}}
	for i := range max(count, c.Nodes) {
		g.Targets = append(g.Targets, c.httpAddr(i))
	}
	b, err := json.MarshalIndent([]group{g}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(c.targetsPath(), append(b, '\n'), 0o644)
}
