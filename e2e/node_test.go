//go:build unix

package e2e

import (
	"bufio"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/internal/testenv"
	"github.com/hashforge/hashforge/store"
)

// TestNode runs a mining regtest node: its API and metrics while it runs, a
// second node locked out of its datadir, a clean SIGINT, and a chain that
// verifies with every block the API reported.
func TestNode(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, "miner", nodeOpts{datadir: dir, mine: true, interval: "50ms"})
	st := n.waitHeight(t, 30*time.Second, 3)
	if st.Network != "regtest" || st.Tip == (chain.Hash{}) {
		t.Errorf("status network %q, tip %s: want regtest and a tip", st.Network, st.Tip)
	}
	if !st.Mining || st.Peers != 0 {
		t.Errorf("status mining %v, peers %d: want true and 0", st.Mining, st.Peers)
	}
	// Each window is null until it has filled, and a rate after.
	for w, rate := range map[string]*float64{"10s": st.Hashrate.S10, "60s": st.Hashrate.M1, "15m": st.Hashrate.M15} {
		if rate != nil && *rate <= 0 {
			t.Errorf("status hashrate %s: %v, want null or a positive number", w, *rate)
		}
	}

	body, err := httpGet(n.url() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics := string(body)
	if v, ok := metricValue(metrics, `miner_hashes_total{backend="cpu",device="cpu0"}`); !ok || v <= 0 {
		t.Errorf("metrics: want miner_hashes_total{backend=\"cpu\",device=\"cpu0\"} > 0, got %v (found %v)", v, ok)
	}
	if v, ok := metricValue(metrics, "miner_chain_height"); !ok || v < 3 {
		t.Errorf("metrics: want miner_chain_height >= 3, got %v (found %v)", v, ok)
	}

	// bbolt's file lock keeps a second node off the datadir: it must
	// give up within seconds and say why, not wait or share the file.
	r := runMiner(t, 10*time.Second, "-m", "-p", "0", "--network", "regtest", "--datadir", dir, "-i", "0", noStratum[0], noStratum[1])
	if r.code == 0 || !strings.Contains(r.stderr, "datadir is in use") || r.took > 5*time.Second {
		t.Errorf("second node on the datadir: exit %d after %s, stderr %q: want non-zero within 5 s, saying the datadir is in use",
			r.code, r.took.Round(time.Millisecond), r.stderr)
	}

	// A clean shutdown within 2 s, and a chain that holds every block the
	// API reported.
	n.stop(t, 2*time.Second)
	if h := verifiedHeight(t, "regtest", verify(t, "regtest", dir)); h < st.Height {
		t.Errorf("verified height %d, below the height %d the API reported", h, st.Height)
	}
}

// TestMineOpenCL mines on the OpenCL backend (PoCL in CI), where every
// launch meets regtest's target for half its nonces, and on devnet, where
// hits are rare: both grow a chain that verifies.
func TestMineOpenCL(t *testing.T) {
	if !slices.Contains(presentBackends(t), "opencl") {
		testenv.Missing(t, "opencl", "no OpenCL device")
	}
	for _, network := range []string{"regtest", "devnet"} {
		t.Run(network, func(t *testing.T) {
			dir := t.TempDir()
			last := mineAndStop(t, nodeOpts{network: network, datadir: dir, extra: []string{"--backend", "opencl"}}, 2)
			if h := verifiedHeight(t, network, verify(t, network, dir)); h < last.Height {
				t.Errorf("verified height %d, below the height %d the API reported", h, last.Height)
			}
		})
	}
}

// metricValue returns the value of a Prometheus text-format sample.
func metricValue(metrics, sample string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(metrics))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestNodeFailsFast checks that a node that cannot start says why and exits
// at once, rather than mining on or hanging.
func TestNodeFailsFast(t *testing.T) {
	tests := []struct {
		name string
		args func(t *testing.T) []string // the node's arguments, after any setup
		want string                      // substring of stderr
	}{
		{"http port taken", func(t *testing.T) []string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
			return []string{"-m", "-p", "0", "--network", "regtest", "--datadir", t.TempDir(), "-i", port}
		}, "http"},
		{"datadir is a file", func(t *testing.T) []string {
			file := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(file, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"-m", "-p", "0", "--network", "regtest", "--datadir", file, "-i", "0"}
		}, "datadir"},
		{"datadir of another network", func(t *testing.T) []string {
			dir := t.TempDir()
			writeGenesis(t, dir, chain.Devnet, true)
			return []string{"-m", "-p", "0", "--network", "regtest", "--datadir", dir, "-i", "0"}
		}, "wrong --network or --datadir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runMiner(t, 10*time.Second, tt.args(t)...)
			if r.code == 0 || r.took > 5*time.Second || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d after %s, stderr %q: want non-zero within 5 s, mentioning %q",
					r.code, r.took.Round(time.Millisecond), logTail(r.stderr), tt.want)
			}
		})
	}
}

// writeGenesis writes a network's genesis block into a new store in dir;
// connect false stops after the block is stored, before it becomes the tip:
// a crash in the middle of a node's first start.
func writeGenesis(t *testing.T, dir string, p *chain.Params, connect bool) {
	t.Helper()
	st, err := store.Open(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if connect {
		if _, err := chain.New(p, st, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		return
	}
	g := p.Genesis
	if err := st.PutBlock(chain.IndexEntry{Header: g.Header}, g.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// TestNodeResumesInterruptedGenesis is a crash window TestCrashSafety
// cannot aim at: a first start killed between storing genesis and connecting
// it (two bbolt transactions) must not leave a datadir no later start opens.
func TestNodeResumesInterruptedGenesis(t *testing.T) {
	dir := t.TempDir()
	writeGenesis(t, dir, chain.Regtest, false)
	mineAndStop(t, nodeOpts{datadir: dir, interval: "50ms"}, 1)
	verifiedHeight(t, "regtest", verify(t, "regtest", dir))
}

var crashSeed = flag.Uint64("crash.seed", 0, "seed of the kill schedule of TestCrashSafety and TestCrashSafetyDuringSync; 0 picks one from the clock")

// TestCrashSafety SIGKILLs a mining node at random moments: every block is
// one bbolt transaction, so after any kill the datadir must verify, and no
// verified block may ever be lost.
func TestCrashSafety(t *testing.T) {
	rng := killSchedule(t)

	// At least minKills, then more while the budget lasts: a loaded machine
	// still gets its 20 kills, an idle one does twice as many.
	const minKills, maxKills, budget = 20, 40, 40 * time.Second
	dir := t.TempDir()
	t0 := time.Now()
	var first, height uint64
	kills := 0
	for i := 0; i < maxKills && (i < minKills || time.Since(t0) < budget); i++ {
		kills++
		// The first run lasts long enough to build a chain; later ones are
		// killed anywhere from start-up to mid-block. Paced and unpaced mining
		// alternate: unpaced writes blocks as fast as the disk allows.
		life := 150*time.Millisecond + time.Duration(rng.Int64N(int64(550*time.Millisecond)))
		if i == 0 {
			life = 1500 * time.Millisecond
		}
		interval := []string{"20ms", "0"}[i%2]
		n := startMiner(t, "-m", "-p", "0", "--network", "regtest", "--datadir", dir, "-i", "0", "--block-interval", interval, noStratum[0], noStratum[1])
		time.Sleep(life)
		height = killVerified(t, n, dir, height, fmt.Sprintf("kill %d after %s (--block-interval %s)", i, life, interval))
		if i == 0 {
			first = height
		}
	}
	t.Logf("%d kills in %s: height %d after the first run, %d at the end", kills, time.Since(t0).Round(time.Millisecond), first, height)
	if first == 0 || height <= first {
		t.Errorf("height %d after the first run, %d at the end: want a chain that grows across kills", first, height)
	}
}

// killSchedule is the random source of a test's kills, seeded by
// -crash.seed or the clock. The seed fixes when each run is killed and how
// it works; where the kills land in the node's work still varies with the
// machine's timing.
func killSchedule(t *testing.T) *rand.Rand {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("kill schedule seed %d; replay it with: go test -run '^%s$' ./e2e -args -crash.seed=%d", seed, t.Name(), seed)
	return rand.New(rand.NewPCG(seed, 0))
}

// killVerified SIGKILLs n, a node on dir, and runs verify on dir: it must
// pass at no lower height than before, the height the last verify gave.
// It returns the height; what names the kill in failures.
func killVerified(t *testing.T, n *proc, dir string, before uint64, what string) uint64 {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	// A node that died by itself (it could not open what the last kill
	// left) would leave the datadir verifying, just never growing.
	if ws := n.waitExit(t, 5*time.Second).Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s: node ended by itself (%v) before the kill\noutput:\n%s", what, ws, logTail(n.output.String()))
	}
	r := verify(t, "regtest", dir)
	if r.code != 0 {
		t.Fatalf("%s: verify exited %d\nstderr: %s\nnode output:\n%s", what, r.code, r.stderr, logTail(n.output.String()))
	}
	h := verifiedHeight(t, "regtest", r)
	if h < before {
		t.Fatalf("%s: verified height went back from %d to %d", what, before, h)
	}
	return h
}

// syncCrashBlocks is the chain TestCrashSafetyDuringSync syncs: long
// enough for 20 kills, each after up to three runs of blocks (up to 4000
// blocks each) and up to 60 ms more, on a machine that syncs tens of
// thousands of blocks a second.
const syncCrashBlocks = 150_000

// TestCrashSafetyDuringSync SIGKILLs a node while it syncs a long chain
// from a peer, each time a moment after it began to connect blocks: a run
// of blocks is one bbolt transaction, so after every kill the datadir must
// verify, no verified block may be lost, and the node must go on to sync
// the whole chain.
func TestCrashSafetyDuringSync(t *testing.T) {
	rng := killSchedule(t)

	// Mining the chain through a node would take minutes: it is built in
	// process, as a sync connects blocks, and served by a node that does
	// not mine.
	src := t.TempDir()
	t0 := time.Now()
	want := writeChain(t, src, syncCrashBlocks)
	t.Logf("built %d blocks in %s", want.Height, time.Since(t0).Round(time.Millisecond))
	a := startNode(t, "A", nodeOpts{datadir: src})

	const kills = 20
	dir := t.TempDir()
	var height uint64
	for i := range kills {
		n := startMiner(t, "-p", "0", "--network", "regtest", "--datadir", dir, "-i", "0", "-k", a.addr(), noStratum[0], noStratum[1])
		// Killed at a random moment of the sync, not of start-up: after
		// one to three runs of blocks are connected (the first are short,
		// while the download finds the blocks' size), looked for more
		// often than waitFor looks, as the sync goes fast.
		runs := 1 + rng.IntN(3)
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(n.output.String(), `msg="blocks connected"`) < runs {
			if time.Now().After(deadline) {
				t.Fatalf("run %d connected fewer than %d runs of blocks in 30 s\noutput:\n%s", i, runs, logTail(n.output.String()))
			}
			time.Sleep(2 * time.Millisecond)
		}
		after := time.Duration(rng.Int64N(int64(60 * time.Millisecond)))
		time.Sleep(after)
		before := height
		what := fmt.Sprintf("kill %d, %s after run %d", i, after.Round(time.Millisecond), runs)
		height = killVerified(t, n, dir, height, what)
		t.Logf("%s: verified height %d", what, height)
		if height <= before || height >= want.Height {
			t.Fatalf("kill %d: verified height %d, from %d before, of %d: want a kill in the middle of the sync", i, height, before, want.Height)
		}
	}

	b := startNode(t, "B", nodeOpts{datadir: dir, peers: []string{a.addr()}})
	waitFor(t, 60*time.Second, "B on A's tip after the kills", func() (bool, string) {
		st, err := b.status()
		if err != nil {
			return false, err.Error()
		}
		return st.Tip == want.Hash, fmt.Sprintf("height %d", st.Height)
	})
	b.stop(t, 5*time.Second)
	if h := verifiedHeight(t, "regtest", verify(t, "regtest", dir)); h != want.Height {
		t.Errorf("verified height %d after the sync, want %d", h, want.Height)
	}
	t.Logf("%d kills during the sync, the last at height %d of %d", kills, height, want.Height)
}

// writeChain builds a regtest chain of n coinbase-only blocks in a new
// store in dir and returns its tip.
func writeChain(t *testing.T, dir string, n int) chain.Tip {
	t.Helper()
	c, st := chaintest.OpenChain(t, dir)
	defer st.Close()
	chaintest.Extend(t, c, n, chain.Address{1})
	return c.Tip()
}
