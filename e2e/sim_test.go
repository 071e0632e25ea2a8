package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// miner sim runs a small network, through a partition, a crash and two
// nodes sending invalid blocks, twice with one seed and once with
// another: the same seed prints the same digest and writes the same
// report.json (but for wall-clock fields), another seed another digest;
// every invariant holds; a bad flag exits 2 before anything runs.
func TestSimCommand(t *testing.T) {
	digest := regexp.MustCompile(`digest ([0-9a-f]{64})`)
	run := func(seed string) (string, map[string]any) {
		t.Helper()
		out := t.TempDir()
		r := runMiner(t, 60*time.Second, "sim", "-n", "20", "--peers", "3", "--blocks", "10", "--interval", "10s",
			"--tx-interval", "2s", "--seed", seed, "--out", out, "--partition", "30s-60s", "--crash", "70s-90s:10%", "--bad-blocks", "5s-100s:10%")
		if r.code != 0 {
			t.Fatalf("miner sim --seed %s: exit %d\n%s%s", seed, r.code, r.stdout, r.stderr)
		}
		m := digest.FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no digest in the summary:\n%s", r.stdout)
		}
		b, err := os.ReadFile(filepath.Join(out, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep map[string]any
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"digest", "nodes", "blocks", "stale_rate", "propagation_ms", "invariants", "events_per_second"} {
			if _, ok := rep[k]; !ok {
				t.Errorf("report.json has no %q", k)
			}
		}
		if bad, _ := rep["misbehaving_nodes"].([]any); len(bad) != 2 {
			t.Errorf("report.json: misbehaving_nodes %v, want the 2 of --bad-blocks", rep["misbehaving_nodes"])
		}
		for name, v := range rep["invariants"].(map[string]any) {
			if v != "ok" {
				t.Errorf("invariant %s: %v", name, v)
			}
		}
		for _, svg := range []string{"propagation_cdf.svg", "fork_tree.svg"} {
			if _, err := os.Stat(filepath.Join(out, svg)); err != nil {
				t.Errorf("plot: %v", err)
			}
		}
		return m[1], rep
	}
	a, ra := run("3")
	b, rb := run("3")
	c, _ := run("4")
	if a != b || ra["digest"] != rb["digest"] || ra["stale_rate"] != rb["stale_rate"] {
		t.Errorf("seed 3 twice: digests %s and %s", a, b)
	}
	if a == c {
		t.Errorf("seeds 3 and 4 print the same digest %s", a)
	}
	for _, flag := range []string{"--crash", "--bad-blocks"} {
		r := runMiner(t, 10*time.Second, "sim", flag, "1h-2h")
		if r.code != exitUsage || !strings.Contains(r.stderr, flag) {
			t.Errorf("bad %s: exit %d, stderr %q; want 2 naming the flag", flag, r.code, r.stderr)
		}
	}
}

// miner sim --http serves the classic scenario's controller: the start's
// balances, a step, and the Host guard of the node's API.
func TestSimController(t *testing.T) {
	port := freePort(t)
	p := startMiner(t, "sim", "--http", port)
	base := "http://127.0.0.1:" + port
	var body []byte
	waitFor(t, 10*time.Second, "the controller answers", func() (bool, string) {
		var err error
		body, err = httpGet(base + "/accounts")
		return err == nil, fmt.Sprint(err, p.exited())
	})
	var balances map[string]float64
	if err := json.Unmarshal(body, &balances); err != nil || balances["aki"] != 2 || balances["so"] != 7 || balances["satoshi"] != 5 {
		t.Fatalf("GET /accounts: %s (%v), want aki 2, so 7, satoshi 5", body, err)
	}
	resp, err := httpClient.Post(base+"/clock", "application/json", strings.NewReader(`{"step": 2}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /clock: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", base+"/clock", nil)
	req.Host = "rebound.example"
	if resp, err := httpClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a foreign Host: %v %v, want 403", resp, err)
	}
}
