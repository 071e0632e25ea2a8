//go:build unix

package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// minerBin is the miner binary TestMain builds: the nodes' program.
var minerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "devnet-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	minerBin = filepath.Join(dir, "miner")
	// Never -race: the nodes would hash ten times slower.
	out, err := exec.Command("go", "build", "-race=false", "-o", minerBin, "../cmd/miner").CombinedOutput()
	code := 1
	if err != nil {
		fmt.Fprintf(os.Stderr, "build miner: %v\n%s", err, out)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// manager is a client of a manager API under test.
type manager struct {
	t   *testing.T
	url string
}

// call sends a request (a POST with body as JSON) and decodes the answer
// into out; it fails the test unless the status is want.
func (m manager) call(method, path, body string, want int, out any) {
	m.t.Helper()
	req, err := http.NewRequest(method, m.url+path, strings.NewReader(body))
	if err != nil {
		m.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil || resp.StatusCode != want {
		m.t.Fatalf("%s %s: %d %s (%v), want %d", method, path, resp.StatusCode, raw, err, want)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		m.t.Fatalf("%s %s: %s: %v", method, path, raw, err)
	}
}

// nodes waits up to d for GET /nodes to satisfy ok and returns it.
func (m manager) nodes(d time.Duration, what string, ok func([]NodeInfo) bool) []NodeInfo {
	m.t.Helper()
	var got []NodeInfo
	for deadline := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		m.call("GET", "/nodes", "", http.StatusOK, &got)
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(got)
			m.t.Fatalf("GET /nodes: not %s within %s: %s", what, d, b)
		}
	}
}

// all reports whether every node is in state and satisfies ok.
func all(nodes []NodeInfo, state string, ok func(NodeInfo) bool) bool {
	for _, n := range nodes {
		if n.State != state || !ok(n) {
			return false
		}
	}
	return true
}

// TestManager runs two mining regtest nodes under the manager API: it
// lists them with their ids, stops their hashing, adds a third that hashes
// no more than they do, stops one, and shuts the network down, leaving no
// process behind.
func TestManager(t *testing.T) {
	cfg := Config{Exe: minerBin, Nodes: 2, Mine: true, Dir: filepath.Join(t.TempDir(), "net"), Network: chain.Regtest,
		Threads: 1, Interval: -1, LogFormat: "text"}
	for range 100 {
		cfg.BasePort = 20000 + rand.IntN(12000)
		cfg.HTTP = cfg.BasePort + HTTPOffset - 1 // between the P2P and the HTTP ports
		if cfg.portsFree(0, cfg.Nodes+1) == nil && portFree("127.0.0.1:"+strconv.Itoa(cfg.HTTP)) == nil {
			break
		}
	}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, &stdout, &stderr) }()
	m := manager{t, "http://127.0.0.1:" + strconv.Itoa(cfg.HTTP)}
	t.Cleanup(func() {
		cancel()
		<-done // Run stops every node before it returns
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})

	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := http.Get(m.url + "/nodes"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("manager API not up within 10 s")
		}
	}
	m.nodes(30*time.Second, "two nodes mining with ids and one tip", func(ns []NodeInfo) bool {
		return len(ns) == 2 && ns[0].Tip != nil && all(ns, "running", func(n NodeInfo) bool {
			return n.ID != nil && n.Mining != nil && *n.Mining && n.Tip != nil && *n.Tip == *ns[0].Tip && *n.Peers == 1
		})
	})
	var after []NodeInfo
	m.call("POST", "/mining", `{"enabled":false}`, http.StatusOK, &after)
	if len(after) != 2 || !all(after, "running", func(n NodeInfo) bool { return n.Mining != nil && !*n.Mining }) {
		t.Fatalf("POST /mining false answered %+v, want both nodes not mining", after)
	}

	var added NodeInfo
	m.call("POST", "/nodes", "", http.StatusCreated, &added)
	if added.Index != 2 || added.State != "running" || added.ID == nil || added.Mining == nil || *added.Mining ||
		added.HTTP != cfg.httpAddr(2) || added.P2P != cfg.p2pAddr(2) {
		t.Fatalf("POST /nodes answered %+v, want node 2 running, with an id, not mining, on its ports", added)
	}
	m.nodes(20*time.Second, "node 2 joined", func(ns []NodeInfo) bool {
		return len(ns) == 3 && ns[2].Peers != nil && *ns[2].Peers >= 1
	})
	var pids []int
	for i := range 3 {
		b, err := os.ReadFile(filepath.Join(cfg.nodeDir(i), "pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("node%d pid file %q: %v", i, b, err)
		}
		pids = append(pids, pid)
	}

	var stopped NodeInfo
	m.call("POST", "/nodes/0/stop", "", http.StatusOK, &stopped)
	if stopped.Index != 0 || stopped.State != "stopped" || stopped.ID == nil || stopped.Height != nil {
		t.Fatalf("POST /nodes/0/stop answered %+v, want node 0 stopped, its id kept", stopped)
	}
	ids := map[chain.Address]bool{}
	for _, n := range m.nodes(time.Second, "node 0 stopped", func(ns []NodeInfo) bool { return ns[0].State == "stopped" }) {
		ids[*n.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("ids %v, want three different ones", ids)
	}

	var final []NodeInfo
	m.call("POST", "/shutdown", "", http.StatusOK, &final)
	if len(final) != 3 || !all(final, "stopped", func(NodeInfo) bool { return true }) {
		t.Errorf("POST /shutdown answered %+v, want three stopped nodes", final)
	}
	select {
	case err := <-done:
		done <- err // for the cleanup
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of POST /shutdown")
	}
	if !strings.Contains(stdout.String(), "devnet: stopped 2 running nodes") {
		t.Errorf("stdout does not end with the 2 nodes still running stopped:\n%s", stdout.String())
	}
	for i := range 3 {
		if _, err := os.Stat(filepath.Join(cfg.nodeDir(i), "pid")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("node%d: pid file left behind (%v)", i, err)
		}
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("node pid %d: still there (%v)", pid, err)
		}
	}
}
