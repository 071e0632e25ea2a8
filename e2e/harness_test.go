package e2e

// The harness every test here shares: the binary, processes, nodes, raw
// P2P peers, waiting, ports, HTTP and logs.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/devnet"
	"github.com/hashforge/hashforge/p2p/wire"
)

// minerPkg is the command under test, built by import path so the build
// does not depend on the folder the tests run in.
const minerPkg = "github.com/hashforge/hashforge/cmd/miner"

// The miner's exit codes, as cmd/miner's main.go sets them: the tests see
// the command from outside, as a script calling it would.
const (
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad flags or input: nothing was done
)

// minerBin is the miner binary TestMain builds.
var minerBin string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "miner-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	minerBin = filepath.Join(dir, "miner")
	// Never -race, even when GOFLAGS asks for it (make test runs go test
	// -race): hashing under the race detector is about 10x slower and the
	// timing tests would measure that, not the miner.
	build := exec.Command("go", "build", "-race=false", "-o", minerBin, minerPkg)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build miner: %v\n", err)
		return 1
	}
	return m.Run()
}

// result is what a finished miner run left behind.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// runMiner runs the miner to completion and fails the test if it outlives
// timeout. It runs in a fresh working directory, so a default ./data/<network>
// never lands in the source tree.
func runMiner(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	return runMinerIn(t, t.TempDir(), timeout, args...)
}

// runMinerIn is runMiner in the working directory dir, such as a node's,
// where the defaults ./data/<network> name that node's datadir.
func runMinerIn(t *testing.T, dir string, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, minerBin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(t0)}
	if ctx.Err() != nil {
		t.Fatalf("miner %s: still running after %s\nstderr:\n%s", strings.Join(args, " "), timeout, logTail(r.stderr))
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("miner %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// jsonLines decodes a command's stdout, one JSON object a line, into Ts.
// Each object must hold every field of T whose tag lacks omitempty and no
// field T lacks: the test reads all the command prints, and a field left
// out does not pass for a zero.
func jsonLines[T any](t *testing.T, stdout string) []T {
	t.Helper()
	var required []string
	typ := reflect.TypeFor[T]()
	for i := range typ.NumField() {
		name, opts, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" && !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	var out []T
	for line := range strings.Lines(stdout) {
		var v T
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		err := dec.Decode(&v)
		var fields map[string]json.RawMessage
		if err == nil {
			err = json.Unmarshal([]byte(line), &fields) // also refuses more on the line
		}
		if err == nil && !strings.HasSuffix(line, "\n") {
			err = errors.New("the last line is unfinished")
		}
		for _, name := range required {
			if _, ok := fields[name]; !ok && err == nil {
				err = fmt.Errorf("no %q field in %s", name, strings.TrimSpace(line))
			}
		}
		if err != nil {
			t.Fatalf("stdout %q: want JSON lines of %T: %v", stdout, v, err)
		}
		out = append(out, v)
	}
	return out
}

// proc is a miner running in the background, such as a node.
type proc struct {
	args   []string
	cmd    *exec.Cmd
	output *lockedBuffer    // stdout and stderr together
	done   chan struct{}    // closed once the process has been waited for
	state  *os.ProcessState // set before done is closed
}

// startMiner starts the miner in the background. The process never outlives
// the test: cleanup kills it, and a hard deadline kills a forgotten one.
func startMiner(t *testing.T, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	p := &proc{args: args, cmd: exec.CommandContext(ctx, minerBin, args...), output: new(lockedBuffer), done: make(chan struct{})}
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start miner: %v", err)
	}
	go func() {
		p.cmd.Wait() // the state below tells how it ended
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		cancel()
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to d for the process to end and returns how it ended.
func (p *proc) waitExit(t *testing.T, d time.Duration) *os.ProcessState {
	t.Helper()
	select {
	case <-p.done:
		return p.state
	case <-time.After(d):
		t.Fatalf("miner %s: still running after %s\noutput:\n%s", strings.Join(p.args, " "), d, logTail(p.output.String()))
		return nil
	}
}

// signal sends sig and waits up to d for the process to end.
func (p *proc) signal(t *testing.T, sig os.Signal, d time.Duration) *os.ProcessState {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal miner: %v (it exited early?)\noutput:\n%s", err, logTail(p.output.String()))
	}
	return p.waitExit(t, d)
}

// lockedBuffer is a buffer a child's output may be copied into while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logTail keeps a failure message readable when a node has logged many
// blocks: runs of "block connected" lines shrink to their last line and a
// count, and only the last 80 lines remain.
func logTail(s string) string {
	var out []string
	run := 0
	var last string
	flush := func() {
		if run > 1 {
			out = append(out, fmt.Sprintf("  … %d more block connected lines", run-1))
		}
		if run > 0 {
			out = append(out, last)
		}
		run = 0
	}
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if strings.Contains(line, `msg="block connected"`) {
			run++
			last = line
			continue
		}
		flush()
		out = append(out, line)
	}
	flush()
	if len(out) > 80 {
		out = append([]string{"…"}, out[len(out)-80:]...)
	}
	return strings.Join(out, "\n")
}

// waitFor polls cond every 50 ms until it holds and returns how long that
// took; after d it fails the test with what and the last state cond
// described.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	t0 := time.Now()
	for {
		ok, state := cond()
		if ok {
			return time.Since(t0)
		}
		if time.Since(t0) > d {
			t.Fatalf("%s: not within %s; last seen: %s", what, d, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a 127.0.0.1 port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// freePortRange returns a base port P with P..P+n-1, P+100..P+100+n-1 and
// P+200..P+200+n-1 free on 127.0.0.1 a moment ago, as `miner devnet -n n
// --base-port P` needs.
// It probes below Linux's ephemeral range, where outgoing connections of
// other tests do not take ports.
func freePortRange(t *testing.T, n int) int {
	t.Helper()
	for range 100 {
		base := 20000 + mrand.IntN(12000)
		free := true
		for i := 0; i < n && free; i++ {
			for _, port := range []int{base + i, base + devnet.HTTPOffset + i, base + devnet.StratumOffset + i} {
				ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
				if err != nil {
					free = false
					break
				}
				ln.Close()
			}
		}
		if free {
			return base
		}
	}
	t.Fatalf("no %d free port triples found", n)
	return 0
}

// httpClient bounds every request: a node that stops answering fails a
// wait, not the whole run.
var httpClient = &http.Client{Timeout: 2 * time.Second}

// httpGet returns the body of a 200 response.
func httpGet(url string) ([]byte, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, err
}

// nodeAPI is a client of the node API at base, such as http://127.0.0.1:18001.
func nodeAPI(base string) *apiclient.Client { return &apiclient.Client{URL: base, HTTP: httpClient} }

// node is one run of a node that startNode started: its name, datadir and
// ports stay across restarts; each restart is a new node.
type node struct {
	name     string
	datadir  string
	p2pPort  string
	httpPort string
	proc     *proc
}

// nodeOpts describes a node to start. The zero value is a regtest node on a
// fresh datadir that neither mines nor dials, on free ports of 127.0.0.1.
type nodeOpts struct {
	network  string   // --network; "" for regtest
	datadir  string   // "" for a fresh one
	port     string   // P2P port; "" for a free one
	mine     bool     // -m -t 1: one thread, as the test's other processes share the cores
	interval string   // --block-interval; "" for the network's own (200ms on regtest)
	peers    []string // -k
	extra    []string // more flags
}

// noStratum turns off the Stratum server, which a regtest node otherwise
// opens on 13333: tests run nodes side by side.
var noStratum = []string{"--stratum-port", "0"}

// startNode starts a node and waits for its API to answer. Its P2P timers
// are short (a ping every second, a silent peer dropped after 3 s, a
// consensus round every 2 s), so what the tests wait for happens within
// seconds. When the test fails, the tail of the node's log is printed.
func startNode(t *testing.T, name string, o nodeOpts) *node {
	t.Helper()
	n := &node{name: name, datadir: o.datadir, p2pPort: o.port, httpPort: freePort(t)}
	if n.datadir == "" {
		n.datadir = t.TempDir()
	}
	if n.p2pPort == "" {
		n.p2pPort = freePort(t)
	}
	args := []string{
		"--network", cmp.Or(o.network, "regtest"), "--datadir", n.datadir,
		"-p", n.p2pPort, "--p2p-addr", "127.0.0.1",
		"-i", n.httpPort, "--http-addr", "127.0.0.1",
		"--ping-interval", "1s", "--peer-timeout", "3s", "--consensus-interval", "2s",
		noStratum[0], noStratum[1], // extra may set it again: the last one counts
	}
	if o.mine {
		args = append(args, "-m", "-t", "1")
	}
	if o.interval != "" {
		args = append(args, "--block-interval", o.interval)
	}
	for _, p := range o.peers {
		args = append(args, "-k", p)
	}
	n.proc = startMiner(t, append(args, o.extra...)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("==== %s (p2p %s, http %s, pid %d): miner %s\n%s", n.name, n.p2pPort, n.httpPort,
				n.pid(), strings.Join(n.proc.args, " "), logTail(n.log()))
		}
	})
	waitFor(t, 30*time.Second, name+"'s API answers", func() (bool, string) {
		n.checkRunning(t)
		_, err := n.status()
		return err == nil, fmt.Sprint(err)
	})
	return n
}

func (n *node) addr() string { return "127.0.0.1:" + n.p2pPort }
func (n *node) url() string  { return "http://127.0.0.1:" + n.httpPort }
func (n *node) pid() int     { return n.proc.cmd.Process.Pid }
func (n *node) log() string  { return n.proc.output.String() }

// api is a client of n's API that writes with the token in n's cookie file.
func (n *node) api() *apiclient.Client {
	c := nodeAPI(n.url())
	c.Cookie = filepath.Join(n.datadir, apiclient.CookieFile)
	return c
}

// walletFlags name n to a wallet command: its URL, and its datadir, where
// the command finds the token.
func (n *node) walletFlags() []string { return []string{"--node", n.url(), "--datadir", n.datadir} }

func (n *node) status() (*apiclient.Status, error) {
	return n.api().Status(context.Background())
}

func (n *node) peers() ([]apiclient.Peer, error) {
	return n.api().Peers(context.Background())
}

// mustStatus is status for a node that must answer.
func (n *node) mustStatus(t *testing.T) *apiclient.Status {
	t.Helper()
	st, err := n.status()
	if err != nil {
		t.Fatalf("%s: %v", n.name, err)
	}
	return st
}

// checkRunning fails the test if n's process has ended: whatever the test
// waits for will not come.
func (n *node) checkRunning(t *testing.T) {
	t.Helper()
	if n.proc.exited() {
		t.Fatalf("%s exited: %v", n.name, n.proc.state)
	}
}

// waitHeight waits up to d for n's chain to reach height and returns the
// status that showed it.
func (n *node) waitHeight(t *testing.T, d time.Duration, height uint64) *apiclient.Status {
	t.Helper()
	var st *apiclient.Status
	waitFor(t, d, fmt.Sprintf("%s at height %d", n.name, height), func() (bool, string) {
		n.checkRunning(t)
		var err error
		if st, err = n.status(); err != nil {
			return false, err.Error()
		}
		return st.Height >= height, fmt.Sprintf("height %d", st.Height)
	})
	return st
}

// stop interrupts n: it must exit 0 within d.
func (n *node) stop(t *testing.T, d time.Duration) {
	t.Helper()
	if code := n.proc.signal(t, os.Interrupt, d).ExitCode(); code != 0 {
		t.Fatalf("%s exited %d after SIGINT, want 0", n.name, code)
	}
}

// restart stops n and starts it again as name on its datadir and P2P port
// with o's other settings.
func (n *node) restart(t *testing.T, name string, o nodeOpts) *node {
	t.Helper()
	n.stop(t, 5*time.Second)
	o.datadir = n.datadir
	if o.port == "" {
		o.port = n.p2pPort
	}
	return startNode(t, name, o)
}

// mineAndStop runs a mining node until its chain reaches height, then
// interrupts it: a clean shutdown must exit 0 within 2 s. It returns the
// status that showed the height.
func mineAndStop(t *testing.T, o nodeOpts, height uint64) *apiclient.Status {
	t.Helper()
	o.mine = true
	n := startNode(t, "miner", o)
	st := n.waitHeight(t, 30*time.Second, height)
	n.stop(t, 2*time.Second)
	return st
}

// verify runs `miner verify` on a datadir.
func verify(t *testing.T, network, datadir string) result {
	t.Helper()
	return runMiner(t, 30*time.Second, "verify", "--network", network, "--datadir", datadir)
}

// reindex runs `miner reindex` on a datadir.
func reindex(t *testing.T, network, datadir string) result {
	t.Helper()
	return runMiner(t, 60*time.Second, "reindex", "--network", network, "--datadir", datadir)
}

var okRE = regexp.MustCompile(`^ok: (\w+) chain (verified|reindexed), height (\d+), tip ([0-9a-f]{64})\n`)

// verifiedHeight requires a passing verify and returns the height it printed.
func verifiedHeight(t *testing.T, network string, r result) uint64 {
	t.Helper()
	return okHeight(t, "verified", network, r)
}

// okHeight requires a command that succeeded and said so in its first line
// ("ok: NETWORK chain VERB, height N, tip HASH") and returns the height.
func okHeight(t *testing.T, verb, network string, r result) uint64 {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	m := okRE.FindStringSubmatch(r.stdout)
	if m == nil || m[1] != network || m[2] != verb {
		t.Fatalf("printed %q, want %q", r.stdout, "ok: "+network+" chain "+verb+", height N, tip HASH")
	}
	h, err := strconv.ParseUint(m[3], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// regtestMagic frames what raw peers send and read.
var regtestMagic = chain.Regtest.Magic

// rawPeer is a TCP connection to a node's P2P port that a test drives by
// hand, speaking the protocol through package wire as the nodes do: a
// hostile peer, or an observer of what the node gossips. A loop reads all
// the node sends: it answers pings (until silent is set), passes on pongs
// and gossiped addresses, and notes the handshake and the connection's end.
type rawPeer struct {
	conn   net.Conn
	wmu    sync.Mutex    // one message at a time: the loop answers pings while the test sends
	silent atomic.Bool   // set, pings go unanswered: the node drops the peer after --peer-timeout
	shook  chan struct{} // closed once the node's version and verack have come
	addrs  chan string   // every address of every addr message; closed when the connection ends
	pongs  chan uint64   // the nonce of every pong
	done   chan struct{} // closed when the connection has ended
}

// dialPeer connects to a node's P2P port; handshake makes it a peer.
func dialPeer(t *testing.T, addr string) *rawPeer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rp := &rawPeer{conn: conn, shook: make(chan struct{}), addrs: make(chan string, 100_000),
		pongs: make(chan uint64, 16), done: make(chan struct{})}
	go rp.read()
	return rp
}

func (rp *rawPeer) read() {
	defer close(rp.done)
	defer close(rp.addrs)
	r := bufio.NewReader(rp.conn)
	var version, verack, shook bool
	for {
		m, err := wire.ReadMessage(r, regtestMagic)
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *wire.MsgVersion:
			version = true
		case *wire.MsgVerAck:
			verack = true
		case *wire.MsgPing:
			if !rp.silent.Load() {
				rp.send(&wire.MsgPong{MsgPing: *m}) // same nonce; our tip does not matter
			}
		case *wire.MsgPong:
			select {
			case rp.pongs <- m.Nonce:
			default:
			}
		case *wire.MsgAddr:
			for _, a := range m.Addrs {
				select {
				case rp.addrs <- net.JoinHostPort(net.IP(a.IP[:]).String(), strconv.Itoa(int(a.Port))):
				default:
				}
			}
		}
		if version && verack && !shook {
			close(rp.shook)
			shook = true
		}
	}
}

// handshake exchanges version and verack as a peer at genesis that does
// not listen.
func (rp *rawPeer) handshake(t *testing.T) {
	t.Helper()
	g := chain.Tip{Hash: chain.Regtest.GenesisHash(), Work: chain.CalcWork(chain.Regtest.Genesis.Header.Bits)}
	v := &wire.MsgVersion{Protocol: wire.ProtocolVersion, Genesis: g.Hash, NodeID: mrand.Uint64(), Tip: wire.NewTipInfo(g)}
	if err := rp.send(v); err != nil {
		t.Fatalf("send version: %v", err)
	}
	select {
	case <-rp.shook:
	case <-rp.done:
		t.Fatal("the node closed the connection in the handshake")
	case <-time.After(5 * time.Second):
		t.Fatal("no version and verack from the node within 5 s")
	}
	if err := rp.send(&wire.MsgVerAck{}); err != nil {
		t.Fatalf("send verack: %v", err)
	}
}

// send writes a message as the nodes frame it.
func (rp *rawPeer) send(m wire.Message) error {
	rp.wmu.Lock()
	defer rp.wmu.Unlock()
	rp.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return wire.WriteMessage(rp.conn, regtestMagic, m)
}

// write sends bytes as they are, such as a frame no wire.Message makes.
func (rp *rawPeer) write(b []byte) error {
	rp.wmu.Lock()
	defer rp.wmu.Unlock()
	rp.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := rp.conn.Write(b)
	return err
}

// ping sends a ping and waits up to d for its pong. A node handles a
// connection's messages in order: the pong means it has handled everything
// sent before the ping and still serves the connection.
func (rp *rawPeer) ping(t *testing.T, nonce uint64, d time.Duration) {
	t.Helper()
	if err := rp.send(&wire.MsgPing{Nonce: nonce}); err != nil {
		t.Fatalf("send ping: %v", err)
	}
	timeout := time.After(d)
	for {
		select {
		case n := <-rp.pongs:
			if n == nonce {
				return
			}
		case <-rp.done:
			t.Fatal("the node closed the connection before its pong")
		case <-timeout:
			t.Fatalf("no pong within %s", d)
		}
	}
}

// awaitAddr waits up to d for the node to gossip addr to rp.
func (rp *rawPeer) awaitAddr(t *testing.T, addr string, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case a, ok := <-rp.addrs:
			if !ok {
				t.Fatalf("the node closed the connection before gossiping %s", addr)
			}
			if a == addr {
				return
			}
		case <-timeout:
			t.Fatalf("the node did not gossip %s within %s", addr, d)
		}
	}
}

// expectClosed waits up to d for the node to close the connection.
func (rp *rawPeer) expectClosed(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-rp.done:
	case <-time.After(d):
		t.Fatalf("the node kept the connection open for %s", d)
	}
}
