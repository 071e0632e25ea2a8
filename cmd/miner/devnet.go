package main

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
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
)

// devnet runs N local nodes for experiments: node i listens for peers on
// 127.0.0.1:P+i and serves HTTP on 127.0.0.1:P+100+i, keeps its datadir in
// D/node<i> and joins node i-1, so the nodes form a chain of peers.
const (
	devnetMaxNodes   = 64  // below devnetHTTPOffset: P2P and HTTP ports never overlap
	devnetHTTPOffset = 100 // node i's HTTP port is its P2P port + 100
	devnetRefresh    = time.Second
	devnetPollWait   = 700 * time.Millisecond // a node slower than this to answer shows as not answering
	devnetStartWait  = 5 * time.Second        // how long a node may take to serve HTTP before the next one starts
	devnetStopGrace  = 5 * time.Second        // after SIGINT, a node still running this long is killed
	devnetTipDigits  = 12
)

type devnetConfig struct {
	nodes     int
	mine      bool
	basePort  int
	dir       string
	network   *chain.Params
	threads   int
	interval  time.Duration // <0: leave the node's own default
	logFormat string
	extra     []string // node flags after --, given to every node
}

func runDevnet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("miner devnet", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: miner devnet [-n N] [--mine] [--base-port P] [--dir D] [-- NODE-FLAGS]

Run N local nodes, each joined to the one before, and show their status every
second until Ctrl-C. Node i listens for peers on 127.0.0.1:P+i and serves its
API and metrics on 127.0.0.1:P+100+i; its datadir is D/node<i> and its output
goes to D/node<i>/node.log. D/targets.json lists the nodes for Prometheus
(file_sd_configs). Flags after -- are given to every node.

Flags:
%s`, fs.FlagUsages())
	}
	nodes := fs.IntP("nodes", "n", 3, fmt.Sprintf("number of nodes, 1 to %d", devnetMaxNodes))
	mine := fs.BoolP("mine", "m", false, "every node mines")
	basePort := fs.Int("base-port", 19000, "P2P port of node 0; node i uses P+i for P2P and P+100+i for HTTP")
	dir := fs.String("dir", "devnet", "directory for the nodes' datadirs, logs and targets.json")
	// regtest by default: its blocks take a few hashes, so `devnet -n 3 --mine`
	// shows the nodes agreeing on a growing chain within seconds. devnet's
	// real difficulty (10 s blocks, ASERT) is there with --network devnet.
	network := fs.String("network", chain.Regtest.Name, "network: regtest or devnet")
	threads := fs.IntP("threads", "t", 1, "CPU hashing threads per mining node, 0 = one per core (one each lets N nodes share the cores)")
	interval := fs.Duration("block-interval", 0, "least time between blocks a node mines (default 1s on regtest, unpaced on devnet)")
	logFormat := fs.String("log-format", "text", "the nodes' log format: text or json")
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

	cfg := devnetConfig{nodes: *nodes, mine: *mine, basePort: *basePort, dir: *dir, threads: *threads, interval: -1, logFormat: *logFormat, extra: fs.Args()}
	var err error
	switch {
	case cfg.nodes < 1 || cfg.nodes > devnetMaxNodes:
		return usagef("--nodes %d: want 1 to %d", cfg.nodes, devnetMaxNodes)
	case cfg.basePort < 1 || cfg.basePort > 65535 || cfg.basePort+devnetHTTPOffset+cfg.nodes-1 > 65535: // the middle test keeps the sum from overflowing
		return usagef("--base-port %d: %d nodes need ports %d to %d, beyond 65535 or below 1",
			cfg.basePort, cfg.nodes, cfg.basePort, cfg.basePort+devnetHTTPOffset+cfg.nodes-1)
	case cfg.dir == "":
		return usagef("--dir must not be empty")
	case cfg.threads < 0:
		return usagef("--threads %d: want 0 (all cores) or more", cfg.threads)
	case *interval < 0:
		return usagef("--block-interval %s: must not be negative", *interval)
	case cfg.logFormat != "text" && cfg.logFormat != "json":
		return usagef("--log-format %q: want text or json", cfg.logFormat)
	case !cfg.mine && (fs.Changed("threads") || fs.Changed("block-interval")):
		return usagef("--threads and --block-interval are for mining nodes: add --mine")
	}
	if cfg.network, err = chain.NetworkByName(*network); err != nil {
		return usageError{err}
	}
	switch {
	case fs.Changed("block-interval"):
		cfg.interval = *interval
	case cfg.network == chain.Regtest:
		// Regtest solves a block in a few hashes, so pacing alone sets the
		// block rate. The node's own 200ms, times N miners, would make forks
		// between near-simultaneous blocks common and the table a blur; 1s a
		// node still grows the chain every second or faster while the nodes
		// mostly agree on their tip whenever the table looks.
		cfg.interval = time.Second
	}
	return cfg.run(ctx, stdout, stderr)
}

func (c *devnetConfig) p2pPort(i int) int  { return c.basePort + i }
func (c *devnetConfig) httpPort(i int) int { return c.basePort + devnetHTTPOffset + i }
func (c *devnetConfig) nodeDir(i int) string {
	return filepath.Join(c.dir, "node"+strconv.Itoa(i))
}

// nodeArgs are node i's command line.
func (c *devnetConfig) nodeArgs(i int) []string {
	args := []string{
		"--network", c.network.Name,
		"--datadir", c.nodeDir(i),
		"--port", strconv.Itoa(c.p2pPort(i)), "--p2p-addr", "127.0.0.1",
		"--http", strconv.Itoa(c.httpPort(i)), "--http-addr", "127.0.0.1",
		"--log-format", c.logFormat,
		// Pings carry the tip, so frequent ones keep each node's view of its
		// peers' tips, and the table's agreement column, current; a consensus
		// round every 10 s puts agreement in the logs too.
		"--ping-interval", "2s", "--consensus-interval", "10s",
	}
	if i > 0 {
		args = append(args, "--peer", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.p2pPort(i-1))))
	}
	if c.mine {
		args = append(args, "--mine", "--threads", strconv.Itoa(c.threads))
		if c.interval >= 0 {
			args = append(args, "--block-interval", c.interval.String())
		}
	}
	return append(args, c.extra...)
}

// devnetNode is one node process.
type devnetNode struct {
	index   int
	cmd     *exec.Cmd
	pidFile string
	done    chan struct{} // closed once the process has been waited for
	err     error         // how it ended; set before done is closed
	killed  bool          // it outlived devnetStopGrace and was killed; set before Kill
	seen    bool          // it has answered /api/status; only the table loop touches it
}

func (n *devnetNode) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

func (c *devnetConfig) run(ctx context.Context, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("devnet: find the miner binary: %w", err)
	}
	// A port in use would only show as a node down, its reason buried in
	// its log: check them all first.
	for i := range c.nodes {
		for _, port := range []int{c.p2pPort(i), c.httpPort(i)} {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				return fmt.Errorf("devnet: port %d is not free (pick another --base-port): %w", port, err)
			}
			ln.Close()
		}
	}
	for i := range c.nodes {
		if err := os.MkdirAll(c.nodeDir(i), 0o755); err != nil {
			return fmt.Errorf("devnet: %w", err)
		}
	}
	targets := filepath.Join(c.dir, "targets.json")
	if err := c.writeTargets(targets); err != nil {
		return fmt.Errorf("devnet: write Prometheus targets: %w", err)
	}

	mining := "not mining"
	if c.mine {
		threads := strconv.Itoa(c.threads) + " thread"
		if c.threads != 1 {
			threads += "s"
		}
		if c.threads == 0 {
			threads = "all cores"
		}
		mining = "mining (" + threads + " each"
		if c.interval > 0 {
			mining += fmt.Sprintf(", a block a node at most every %s", c.interval)
		}
		mining += ")"
	}
	fmt.Fprintf(stdout, "devnet: %d %s nodes, %s; P2P ports %d-%d, HTTP ports %d-%d on 127.0.0.1\n",
		c.nodes, c.network.Name, mining, c.p2pPort(0), c.p2pPort(c.nodes-1), c.httpPort(0), c.httpPort(c.nodes-1))
	fmt.Fprintf(stdout, "devnet: datadirs and logs in %s; Prometheus file_sd targets in %s\n",
		filepath.Join(c.dir, "node<i>", "node.log"), targets)
	fmt.Fprintf(stdout, "devnet: Ctrl-C stops every node\n")

	client := &http.Client{Timeout: devnetPollWait}
	defer client.CloseIdleConnections()
	var nodes []*devnetNode
	var startErr error
	for i := range c.nodes {
		n, err := c.start(exe, i)
		if err != nil {
			startErr = fmt.Errorf("devnet: start node %d: %w", i, err)
			break
		}
		nodes = append(nodes, n)
		// The next node dials this one at once: wait until it serves HTTP,
		// which it does only after its P2P port listens, so the first dial
		// lands instead of backing off for seconds.
		c.waitUp(ctx, client, n)
		if ctx.Err() != nil {
			break
		}
	}

	if startErr == nil {
		tty := isTerminal(stdout)
		tick := time.NewTicker(devnetRefresh)
	loop:
		for ctx.Err() == nil {
			stats := c.poll(ctx, client, nodes)
			if ctx.Err() != nil {
				break
			}
			var buf bytes.Buffer
			if tty {
				buf.WriteString("\x1b[H\x1b[2J") // home, clear screen
			}
			c.render(&buf, nodes, stats, time.Now())
			if tty {
				fmt.Fprintf(&buf, "\nlogs: %s · Prometheus targets: %s · Ctrl-C stops every node\n",
					filepath.Join(c.dir, "node<i>", "node.log"), targets)
			} else {
				buf.WriteString("\n") // a blank line ends each block
			}
			stdout.Write(buf.Bytes())
			select {
			case <-ctx.Done():
				break loop
			case <-tick.C:
			}
		}
		tick.Stop()
	}

	t0 := time.Now()
	running := 0
	for _, n := range nodes {
		if !n.exited() {
			running++
		}
	}
	killed := stopNodes(nodes)
	for _, n := range nodes {
		if n.err != nil && !(n.killed && startErr == nil) {
			fmt.Fprintf(stderr, "devnet: node%d ended: %v (see %s)\n", n.index, n.err, filepath.Join(c.nodeDir(n.index), "node.log"))
		}
	}
	if startErr != nil {
		return startErr
	}
	final := fmt.Sprintf("devnet: stopped %d running nodes in %s", running, time.Since(t0).Round(time.Millisecond))
	if killed > 0 {
		final += fmt.Sprintf(", %d killed after %s without exiting", killed, devnetStopGrace)
	}
	fmt.Fprintf(stdout, "%s; datadirs and logs kept in %s\n", final, c.dir)
	return nil
}

// start starts node i with its output appended to its node.log, and records
// its PID in its pid file until it has been waited for.
func (c *devnetConfig) start(exe string, i int) (*devnetNode, error) {
	dir := c.nodeDir(i)
	log, err := os.OpenFile(filepath.Join(dir, "node.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child holds its own copy
	cmd := exec.Command(exe, c.nodeArgs(i)...)
	cmd.Stdout, cmd.Stderr = log, log // files, not pipes: no copying goroutines, nothing to drain
	// On Linux the kernel kills the node if the launcher dies, even by
	// SIGKILL, so no node outlives it; see devnet_linux.go.
	cmd.SysProcAttr = devnetSysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &devnetNode{index: i, cmd: cmd, pidFile: filepath.Join(dir, "pid"), done: make(chan struct{})}
	if err := os.WriteFile(n.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		n.pidFile = ""
	}
	go func() {
		n.err = cmd.Wait()
		if n.pidFile != "" {
			os.Remove(n.pidFile)
		}
		close(n.done)
	}()
	return n, nil
}

// waitUp waits until node n answers on HTTP, exits, or devnetStartWait passes.
func (c *devnetConfig) waitUp(ctx context.Context, client *http.Client, n *devnetNode) {
	ctx, cancel := context.WithTimeout(ctx, devnetStartWait)
	defer cancel()
	for ctx.Err() == nil && !n.exited() {
		if _, err := c.status(ctx, client, n.index); err == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-n.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stopNodes interrupts every running node and waits for them all; a node
// still running after devnetStopGrace is killed. It returns how many were.
func stopNodes(nodes []*devnetNode) int {
	for _, n := range nodes {
		if !n.exited() {
			if err := n.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
				n.cmd.Process.Kill() // no SIGINT here (Windows): stop it the hard way
			}
		}
	}
	grace, cancel := context.WithTimeout(context.Background(), devnetStopGrace)
	defer cancel()
	killed := 0
	for _, n := range nodes {
		select {
		case <-n.done:
			continue
		case <-grace.Done():
		}
		select {
		case <-n.done:
		default:
			n.killed = true
			killed++
			n.cmd.Process.Kill()
			<-n.done
		}
	}
	return killed
}

func (c *devnetConfig) status(ctx context.Context, client *http.Client, i int) (*apiclient.Status, error) {
	url := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.httpPort(i))) + "/api/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var st apiclient.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return &st, nil
}

// poll asks every running node for its status at once; nil means no answer.
func (c *devnetConfig) poll(ctx context.Context, client *http.Client, nodes []*devnetNode) []*apiclient.Status {
	stats := make([]*apiclient.Status, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		if n.exited() {
			continue
		}
		wg.Go(func() { stats[i], _ = c.status(ctx, client, n.index) })
	}
	wg.Wait()
	return stats
}

// render writes one table of the nodes' states.
func (c *devnetConfig) render(w io.Writer, nodes []*devnetNode, stats []*apiclient.Status, now time.Time) {
	up, tips := 0, map[chain.Hash]bool{}
	var minH, maxH uint64
	for _, st := range stats {
		if st == nil {
			continue
		}
		if up == 0 || st.Height < minH {
			minH = st.Height
		}
		maxH = max(maxH, st.Height)
		up++
		tips[st.Tip] = true
	}
	summary := fmt.Sprintf("%d of %d up", up, len(nodes))
	switch {
	case up == 0:
	case len(tips) == 1:
		summary += fmt.Sprintf(", one tip at height %d", maxH)
	case minH == maxH:
		summary += fmt.Sprintf(", %d tips at height %d", len(tips), maxH)
	default:
		summary += fmt.Sprintf(", %d tips at heights %d-%d", len(tips), minH, maxH)
	}
	fmt.Fprintf(w, "hashforge devnet on %s %s: %s\n", c.network.Name, now.Format("15:04:05"), summary)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tP2P\tHTTP\tHEIGHT\tTIP\tPEERS\tHASHRATE\tAGREE")
	var notes []string
	for i, n := range nodes {
		state, height, tip, peers, rate, agree := "up", "-", "-", "-", "-", "-"
		switch st := stats[i]; {
		case n.exited():
			state = "down"
			notes = append(notes, fmt.Sprintf("node%d down: %v (see %s)", n.index, n.err, filepath.Join(c.nodeDir(n.index), "node.log")))
		case st == nil && n.seen:
			state = "no answer"
		case st == nil:
			state = "starting"
		default:
			n.seen = true
			height, tip, peers = strconv.FormatUint(st.Height, 10), shortTip(st.Tip), strconv.Itoa(st.Peers)
			if st.Hashrate.M1 != nil {
				rate = hasher.FormatRate(*st.Hashrate.M1)
			} else if st.Mining {
				rate = "measuring" // the API's 60 s window has not filled
			}
			if st.Agreement != nil {
				agree = fmt.Sprintf("%d/%d", st.PeersAgreeing, st.Peers)
			}
		}
		fmt.Fprintf(tw, "node%d\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", n.index, state, c.p2pPort(n.index), c.httpPort(n.index), height, tip, peers, rate, agree)
	}
	tw.Flush()
	for _, note := range notes {
		fmt.Fprintln(w, note)
	}
}

// shortTip is the tip's last digits: devnet hashes all start with zeros.
func shortTip(h chain.Hash) string {
	s := h.String()
	return s[len(s)-devnetTipDigits:]
}

// writeTargets writes the nodes' HTTP addresses as a Prometheus file_sd
// target group, without labels: the job that reads it names them, and each
// node's miner_info carries its network. It writes a temporary file and
// renames it over the old one, so Prometheus, which rereads the file when it
// changes, never reads half.
func (c *devnetConfig) writeTargets(path string) error {
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	g := group{Labels: map[string]string{}}
	for i := range c.nodes {
		g.Targets = append(g.Targets, net.JoinHostPort("127.0.0.1", strconv.Itoa(c.httpPort(i))))
	}
	b, err := json.MarshalIndent([]group{g}, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// isTerminal reports whether w is a terminal (a character device), where the
// table is redrawn in place instead of appended.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && !strings.HasPrefix(os.Getenv("TERM"), "dumb")
}
