package stratum_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/miner"
	"github.com/hashforge/hashforge/stratum"
)

// hardBits is the node's miner with the block target of difficulty 1: on
// regtest every share would be a block, and tests of shares that are not
// need a target no share of theirs meets. Blocks of these jobs are never
// made, so the chain never sees the bits.
type hardBits struct{ stratum.Templates }

func (h hardBits) BlockTemplate(ctx context.Context, payTo chain.Address) (*chain.Block, error) {
	b, err := h.Templates.BlockTemplate(ctx, payTo)
	if err == nil {
		b.Header.Bits = 0x1d00ffff
	}
	return b, err
}

// testServer is a server on 127.0.0.1 for a real regtest chain, its jobs
// built by a real miner.
type testServer struct {
	addr  string
	chain *chain.Chain
	srv   *stratum.Server
}

// startServer serves cfg; hard makes no share a block.
func startServer(t testing.TB, cfg stratum.ServerConfig, hard bool) *testServer {
	t.Helper()
	ch, _ := chaintest.NewChain(t)
	log := slog.New(slog.DiscardHandler)
	var tmpl stratum.Templates = miner.NewTemplates(ch, nil, log)
	if hard {
		tmpl = hardBits{tmpl}
	}
	if cfg.MinDifficulty == 0 {
		cfg.MinDifficulty = 1e-10 // below regtest's blocks: share difficulty stops at theirs
	}
	srv := stratum.NewServer(cfg, ch, tmpl, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testServer{addr: ln.Addr().String(), chain: ch, srv: srv}
}

// newTip connects a block from elsewhere, as a peer's would arrive.
func (ts *testServer) newTip(t testing.TB) chain.Hash {
	t.Helper()
	parent, err := ts.chain.Block(ts.chain.Tip().Hash)
	if err != nil {
		t.Fatal(err)
	}
	b := chaintest.Mine(t, parent, chain.Address{0xee})
	if err := ts.chain.ProcessBlock(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return b.Hash()
}

// message is any line the server sends.
type message struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
	Result json.RawMessage   `json:"result"`
	Error  json.RawMessage   `json:"error"`
}

// client speaks Stratum lines to the server as minerd does.
type client struct {
	t           testing.TB
	conn        net.Conn
	r           *bufio.Reader
	calls       int
	extranonce1 []byte
	diff        float64
	jobs        []stratum.Job // newest last
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(line + "\n")); err != nil {
		c.t.Fatal(err)
	}
}

// next reads one message, noting difficulties and jobs.
func (c *client) next() message {
	c.t.Helper()
	m, err := c.read(5 * time.Second)
	if err != nil {
		c.t.Fatalf("reading from the server: %v", err)
	}
	return m
}

func (c *client) read(timeout time.Duration) (message, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return message{}, err
	}
	var m message
	if err := json.Unmarshal(line, &m); err != nil {
		return m, fmt.Errorf("line %q: %w", line, err)
	}
	switch m.Method {
	case "mining.set_difficulty":
		if c.diff, err = stratum.ParseDifficulty(m.Params[0]); err != nil {
			return m, err
		}
	case "mining.notify":
		j, err := stratum.DecodeNotify(m.Params)
		if err != nil {
			return m, err
		}
		c.jobs = append(c.jobs, j)
	}
	return m, nil
}

// call sends a request and returns its response.
func (c *client) call(method string, params ...any) message {
	c.t.Helper()
	c.calls++
	b, _ := json.Marshal(map[string]any{"id": c.calls, "method": method, "params": params})
	c.send(string(b))
	for {
		m := c.next()
		if m.Method == "" && string(m.ID) == fmt.Sprint(c.calls) {
			return m
		}
	}
}

// job waits for a job after the n it has.
func (c *client) job(n int) stratum.Job {
	c.t.Helper()
	for len(c.jobs) <= n {
		c.next()
	}
	return c.jobs[len(c.jobs)-1]
}

// start subscribes and authorises user and returns the first job.
func (c *client) start(user, password string) stratum.Job {
	c.t.Helper()
	m := c.call("mining.subscribe", "cpuminer/2.5.1")
	var err error
	if c.extranonce1, _, err = stratum.DecodeSubscribeResult(m.Result); err != nil {
		c.t.Fatal(err)
	}
	if m := c.call("mining.authorize", user, password); string(m.Result) != "true" {
		c.t.Fatalf("authorize %s: %s", user, m.Error)
	}
	return c.job(0)
}

// share searches extranonce2 0 for a nonce meeting (want true) or missing
// the client's share target, as a CPU miner does.
func (c *client) share(j stratum.Job, user string, want bool) stratum.Submit {
	c.t.Helper()
	s := stratum.Submit{Worker: user, JobID: j.ID, Extranonce2: make([]byte, 4), Time: j.Time}
	target, err := stratum.DifficultyTarget(c.diff)
	if err != nil {
		c.t.Fatal(err)
	}
	h, err := j.Header(c.extranonce1, &s, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	for range 1 << 26 {
		if (chain.HashToBig(h.Hash()).Cmp(target) <= 0) == want {
			s.Nonce = h.Nonce
			return s
		}
		h.Nonce++
	}
	c.t.Fatalf("no share in 2^26 nonces at difficulty %g", c.diff)
	return s
}

func (c *client) submit(s stratum.Submit) message {
	c.t.Helper()
	return c.call("mining.submit", s.Params()...)
}

// refusal returns a response's error code and message.
func refusal(t testing.TB, m message) (int, string) {
	t.Helper()
	var e []any
	if err := json.Unmarshal(m.Error, &e); err != nil || len(e) != 3 || e[2] != nil {
		t.Fatalf("error %s, want [code, message, null]", m.Error)
	}
	code, _ := e[0].(float64)
	msg, _ := e[1].(string)
	return int(code), msg
}

// closed reports whether the server closed the connection, after reading
// what it sent before.
func (c *client) closed() bool {
	for {
		if _, err := c.read(5 * time.Second); err != nil {
			return !isTimeout(err)
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

var (
	alice = chain.Address{0xa1}
	bob   = chain.Address{0xb0}
)

// A miner subscribes, authorises with its address, gets a difficulty and a
// job, and its share (a block on regtest) is a block on the chain paying
// that address; the stats and SubscribeBlocks tell of it, and every miner gets a
// clean job on the new tip.
func TestServerMinesBlock(t *testing.T) {
	ts := startServer(t, stratum.ServerConfig{}, false)
	blocks, cancel := ts.srv.SubscribeBlocks()
	defer cancel()
	user := alice.String() + ".rig1"
	c := dial(t, ts.addr)
	job := c.start(user, "d=0.0001")
	if !job.Clean || job.PrevHash != ts.chain.Tip().Hash {
		t.Errorf("first job: clean %t on %s, want clean on the tip %s", job.Clean, job.PrevHash, ts.chain.Tip().Hash)
	}
	if want := chain.Difficulty(job.Bits); c.diff != want {
		t.Errorf("share difficulty %g on regtest, want the block's %g: every block must reach the server", c.diff, want)
	}
	other := dial(t, ts.addr)
	other.start(bob.String(), "x")

	s := c.share(job, user, true)
	// The clean job may come before the answer to the share.
	seen := []int{len(c.jobs), len(other.jobs)}
	if m := c.submit(s); string(m.Result) != "true" {
		t.Fatalf("share refused: %s", m.Error)
	}
	tip := ts.chain.Tip()
	if tip.Height != 1 {
		t.Fatalf("chain height %d after a block share, want 1", tip.Height)
	}
	b, err := ts.chain.Block(tip.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if cb := b.Txs[0]; cb.To != alice || cb.Amount != chain.Regtest.Subsidy {
		t.Errorf("coinbase pays %d to %s, want the subsidy to %s", cb.Amount, cb.To, alice)
	}
	if want := binary.LittleEndian.Uint32(c.extranonce1); uint32(b.Txs[0].ExtraNonce) != want {
		t.Errorf("coinbase extranonce %016x does not hold the miner's extranonce1 %x", b.Txs[0].ExtraNonce, c.extranonce1)
	}
	for i, cl := range []*client{c, other} {
		if j := cl.job(seen[i]); !j.Clean || j.PrevHash != tip.Hash {
			t.Errorf("after the block: job clean %t on %s, want clean on %s", j.Clean, j.PrevHash, tip.Hash)
		}
	}

	st := ts.srv.Stats()
	if st.Connections != 2 || len(st.Workers) != 2 || st.BlocksFound != 1 || st.Shares["accepted"] != 1 {
		t.Errorf("stats %+v, want 2 connections and workers, 1 block, 1 accepted share", st)
	}
	for _, w := range st.Workers {
		if w.Address == alice && (w.Worker != "rig1" || w.Accepted != 1 || w.BlocksFound != 1 || w.LastShare.IsZero() || w.Hashrate <= 0) {
			t.Errorf("alice's stats %+v", w)
		}
	}
	if found := <-blocks; found.Hash != tip.Hash || found.Height != 1 || found.Address != alice || found.Worker != "rig1" || len(blocks) != 0 {
		t.Errorf("the subscription heard %+v (and %d more), want block %s at height 1 by alice's rig1", found, len(blocks), tip.Hash)
	}
}

// Where blocks are easier than the least share difficulty (regtest under
// the default floor), the share difficulty is the vardiff's, not the
// block's: every share is a block, paced like the node's own mining,
// instead of a miner flooding the server with one block every two hashes.
func TestServerShareFloor(t *testing.T) {
	floor := math.Pow(2, -16)
	ts := startServer(t, stratum.ServerConfig{MinDifficulty: floor, StartDifficulty: floor}, false)
	c := dial(t, ts.addr)
	job := c.start(alice.String(), "x")
	if c.diff != floor {
		t.Fatalf("share difficulty %g on regtest, want the floor %g", c.diff, floor)
	}
	if m := c.submit(c.share(job, alice.String(), true)); string(m.Result) != "true" {
		t.Fatalf("share refused: %s", m.Error)
	}
	if ts.chain.Tip().Height != 1 {
		t.Errorf("chain height %d after a share at the floor, want 1: every such share is a block", ts.chain.Tip().Height)
	}
}

// With PayTo set, every job pays the node's address, whoever mines.
func TestServerPayTo(t *testing.T) {
	node := chain.Address{0x0d}
	ts := startServer(t, stratum.ServerConfig{PayTo: &node}, false)
	c := dial(t, ts.addr)
	job := c.start(alice.String(), "")
	if m := c.submit(c.share(job, alice.String(), true)); string(m.Result) != "true" {
		t.Fatalf("share refused: %s", m.Error)
	}
	b, err := ts.chain.Block(ts.chain.Tip().Hash)
	if err != nil {
		t.Fatal(err)
	}
	if b.Txs[0].To != node {
		t.Errorf("coinbase pays %s, want the node's %s", b.Txs[0].To, node)
	}
}

// A share that is not a block is accepted and counted, and leaves the chain
// alone.
func TestServerAcceptsShare(t *testing.T) {
	ts := startServer(t, stratum.ServerConfig{}, true)
	c := dial(t, ts.addr)
	job := c.start(alice.String()+".w", "d=0.00002")
	if c.diff != 0.00002 {
		t.Fatalf("share difficulty %g, want the password's 0.00002", c.diff)
	}
	for range 3 {
		if m := c.submit(c.share(job, alice.String()+".w", true)); string(m.Result) != "true" {
			t.Fatalf("share refused: %s", m.Error)
		}
		job.Time++ // another header for the next share
	}
	if h := ts.chain.Tip().Height; h != 0 {
		t.Errorf("chain height %d: shares below the block target became blocks", h)
	}
	w := ts.srv.Stats().Workers[0]
	if w.Accepted != 3 || w.Difficulty != 0.00002 || w.Hashrate <= 0 {
		t.Errorf("worker stats %+v", w)
	}
}

// A new tip reaches a miner as a clean job at once: the chain's event, a
// template, a line. The bound is generous for a loaded machine; the time
// is logged.
func TestServerNewTipCleanJob(t *testing.T) {
	ts := startServer(t, stratum.ServerConfig{}, true)
	c := dial(t, ts.addr)
	c.start(alice.String(), "")
	var worst time.Duration
	for range 5 {
		n := len(c.jobs)
		start := time.Now()
		tip := ts.newTip(t)
		j := c.job(n)
		took := time.Since(start)
		worst = max(worst, took)
		if !j.Clean || j.PrevHash != tip {
			t.Errorf("job clean %t on %s, want clean on %s", j.Clean, j.PrevHash, tip)
		}
	}
	t.Logf("new tip to clean job (block validation and storage included): worst %v of 5", worst)
	if worst > time.Second {
		t.Errorf("a clean job took %v", worst)
	}
}

// The answers of the methods beside submit, as miners read them.
func TestServerAnswers(t *testing.T) {
	ts := startServer(t, stratum.ServerConfig{MinDifficulty: 0.001, MaxDifficulty: 0.5}, true)
	c := dial(t, ts.addr)
	for _, a := range []struct {
		method string
		params []any
		want   string
	}{
		{"mining.configure", []any{[]string{"version-rolling", "minimum-difficulty"},
			map[string]any{"version-rolling.mask": "ffffffff", "version-rolling.min-bit-count": 2}},
			`{"minimum-difficulty":false,"version-rolling":true,"version-rolling.mask":"1fffe000"}`},
		{"mining.configure", []any{[]string{"version-rolling"}, map[string]any{"version-rolling.mask": "00ff0000"}},
			`{"version-rolling":true,"version-rolling.mask":"00ff0000"}`},
		{"mining.configure", []any{[]string{"version-rolling"}, map[string]any{"version-rolling.mask": "00000001"}},
			`{"version-rolling":false}`},
		{"mining.extranonce.subscribe", nil, `true`},
		{"mining.suggest_difficulty", []any{"5000"}, `true`},
	} {
		m := c.call(a.method, a.params...)
		if string(m.Result) != a.want {
			t.Errorf("%s %v: %s (error %s), want %s", a.method, a.params, m.Result, m.Error, a.want)
		}
	}
	c.start(alice.String(), "x")
	if c.diff != 0.5 {
		t.Errorf("suggested 5000 within [0.001, 0.5]: difficulty %g", c.diff)
	}
	if m := c.call("mining.suggest_difficulty", 0.01); string(m.Result) != "true" {
		t.Fatal(m.Error)
	}
	if j := c.job(1); j.Clean || c.diff != 0.01 {
		t.Errorf("after a suggestion: job clean %t at difficulty %g, want a job at 0.01, not clean", j.Clean, c.diff)
	}

	// A miner that reconnects with its session id gets its extranonce1 back.
	sub := c.call("mining.subscribe")
	var result []json.RawMessage
	var id string
	if err := json.Unmarshal(sub.Result, &result); err != nil {
		t.Fatal(err)
	}
	var subs [][]string
	if err := json.Unmarshal(result[0], &subs); err != nil || len(subs) != 2 || subs[0][0] != "mining.set_difficulty" || subs[1][0] != "mining.notify" {
		t.Fatalf("subscriptions %s", result[0])
	}
	id = subs[1][1]
	c.conn.Close()
	for range 100 { // the server forgets the connection once it reads its end
		if ts.srv.Stats().Connections == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	again := dial(t, ts.addr)
	m := again.call("mining.subscribe", "cgminer/4.12.1", id)
	en1, _, err := stratum.DecodeSubscribeResult(m.Result)
	if err != nil || string(en1) != string(c.extranonce1) {
		t.Errorf("resumed session %s: extranonce1 %x (%v), want %x", id, en1, err, c.extranonce1)
	}
	fresh := dial(t, ts.addr)
	if en1, _, _ := stratum.DecodeSubscribeResult(fresh.call("mining.subscribe", "x", id).Result); string(en1) == string(c.extranonce1) {
		t.Error("a session id resumed twice: two miners share an extranonce1")
	}
}

// Every RefreshInterval a miner gets a job with the newest transactions on
// the same tip, not clean: its work so far stays good.
func TestServerRefresh(t *testing.T) {
	ts := startServer(t, stratum.ServerConfig{RefreshInterval: 50 * time.Millisecond}, true)
	c := dial(t, ts.addr)
	first := c.start(alice.String(), "x")
	j := c.job(1)
	if j.Clean || j.ID == first.ID || j.PrevHash != first.PrevHash {
		t.Errorf("refresh: job %q clean %t on %s, after job %q on %s; want a new job, not clean, same tip",
			j.ID, j.Clean, j.PrevHash, first.ID, first.PrevHash)
	}
	// A share of the first job still counts.
	if m := c.submit(c.share(first, alice.String(), false)); m.Error != nil {
		if code, _ := refusal(t, m); code != 23 {
			t.Errorf("share of the job before a refresh: code %d, want only a low difficulty refusal", code)
		}
	}
}

// A share of a job sent before a difficulty rise counts at that job's
// difficulty, as the miner may not have switched yet; a share of a job
// sent after it must meet the new one.
func TestServerShareAtOldDifficulty(t *testing.T) {
	ts := startServer(t, stratum.ServerConfig{StartDifficulty: 0.00002}, true)
	c := dial(t, ts.addr)
	user := alice.String()
	old := c.start(user, "x")
	early := c.share(old, user, true)
	if m := c.call("mining.suggest_difficulty", 0.5); string(m.Result) != "true" {
		t.Fatal(m.Error)
	}
	raised := c.job(1)
	if c.diff != 0.5 {
		t.Fatalf("difficulty %g after suggesting 0.5", c.diff)
	}
	if m := c.submit(early); string(m.Result) != "true" {
		t.Errorf("share of the job before the rise: %s, want accepted at its difficulty", m.Error)
	}
	c.diff = 0.00002 // search at the old difficulty, on the new job
	if code, _ := refusal(t, c.submit(c.share(raised, user, true))); code != 23 {
		t.Errorf("old-difficulty share of the new job: code %d, want 23", code)
	}
}

// A miner that sends a burst of requests before it reads a reply (minerd
// after a new tip submits its backlog) gets every reply, however many more
// than the send queue holds: its requests wait for its reads.
func TestServerBurst(t *testing.T) {
	ts := startServer(t, stratum.ServerConfig{}, true)
	c := dial(t, ts.addr)
	c.start(alice.String(), "x")
	const n = 1000
	var burst strings.Builder
	for i := range n {
		fmt.Fprintf(&burst, `{"id":%d,"method":"mining.extranonce.subscribe","params":[]}`+"\n", 1000+i)
	}
	go c.conn.Write([]byte(burst.String())) // the server's replies fill the socket as it writes
	replies := 0
	for replies < n {
		m := c.next()
		if string(m.Result) == "true" {
			replies++
		}
	}
	if st := ts.srv.Stats(); st.Connections != 1 {
		t.Errorf("%d connections after the burst, want the miner's", st.Connections)
	}
}
