//go:build unix

package e2e

import (
	"bufio"
	"flag"
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
	r := runMiner(t, 10*time.Second, "-m", "-p", "0", "--network", "regtest", "--datadir", dir, "-i", "0")
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

var crashSeed = flag.Uint64("crash.seed", 0, "seed of TestCrashSafety's kill schedule; 0 picks one from the clock")

// TestCrashSafety SIGKILLs a mining node at random moments: every block is
// one bbolt transaction, so after any kill the datadir must verify, and no
// verified block may ever be lost.
func TestCrashSafety(t *testing.T) {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	// The seed fixes when each run is killed and how it mines; where the
	// kills land in the node's work still varies with the machine's timing.
	t.Logf("kill schedule seed %d; replay it with: go test -run TestCrashSafety ./e2e -args -crash.seed=%d", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

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
		n := startMiner(t, "-m", "-p", "0", "--network", "regtest", "--datadir", dir, "-i", "0", "--block-interval", interval)
		time.Sleep(life)
		if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		// A node that died by itself (it could not open what the last kill
		// left) would leave the datadir verifying, just never growing.
		if ws := n.waitExit(t, 5*time.Second).Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: node ended by itself (%v) before the kill\noutput:\n%s", i, ws, logTail(n.output.String()))
		}

		r := verify(t, "regtest", dir)
		if r.code != 0 {
			t.Fatalf("kill %d after %s (--block-interval %s): verify exited %d\nstderr: %s\nnode output:\n%s",
				i, life, interval, r.code, r.stderr, logTail(n.output.String()))
		}
		h := verifiedHeight(t, "regtest", r)
		if h < height {
			t.Fatalf("kill %d after %s (--block-interval %s): verified height went back from %d to %d", i, life, interval, height, h)
		}
		height = h
		if i == 0 {
			first = h
		}
	}
	t.Logf("%d kills in %s: height %d after the first run, %d at the end", kills, time.Since(t0).Round(time.Millisecond), first, height)
	if first == 0 || height <= first {
		t.Errorf("height %d after the first run, %d at the end: want a chain that grows across kills", first, height)
	}
}
