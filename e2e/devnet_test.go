//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashforge/hashforge/devnet"
)

// devnetRow is one node's row of the devnet table.
type devnetRow struct {
	node, p2p, http int
	state           string
	id              string
	height          string
	tip             string
	peers           string
	hashrate        string
}

var devnetRowRE = regexp.MustCompile(`^node(\d+)\s+(up|starting|no answer|down|stopped)\s+([0-9a-f]{12}|-)\s+(\d+)\s+(\d+)\s+(\d+|-)\s+([0-9a-f]+|-)\s+(\d+|-)\s+(.+?)\s+(\d+/\d+|-)$`)

// devnetTables parses the complete tables in a plain (not terminal) devnet
// output: each starts with a "hashforge devnet" line and ends with a blank line.
func devnetTables(out string) [][]devnetRow {
	blocks := strings.Split(out, "\n\n")
	var tables [][]devnetRow
	for _, b := range blocks[:len(blocks)-1] { // the last may be half written
		lines := strings.Split(b, "\n")
		for len(lines) > 0 && !strings.HasPrefix(lines[0], "hashforge devnet ") {
			lines = lines[1:] // the start-up lines before the first table
		}
		if len(lines) == 0 {
			continue
		}
		var rows []devnetRow
		for _, l := range lines {
			m := devnetRowRE.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			r := devnetRow{state: m[2], id: m[3], height: m[6], tip: m[7], peers: m[8], hashrate: m[9]}
			r.node, _ = strconv.Atoi(m[1])
			r.p2p, _ = strconv.Atoi(m[4])
			r.http, _ = strconv.Atoi(m[5])
			rows = append(rows, r)
		}
		tables = append(tables, rows)
	}
	return tables
}

// waitTable waits up to d for a printed table that ok accepts and returns it.
func waitTable(t *testing.T, p *proc, d time.Duration, what string, ok func([]devnetRow) bool) []devnetRow {
	t.Helper()
	var found []devnetRow
	waitFor(t, d, "a table showing "+what, func() (bool, string) {
		tables := devnetTables(p.output.String())
		for i := len(tables) - 1; i >= 0; i-- {
			if ok(tables[i]) {
				found = tables[i]
				return true, ""
			}
		}
		if p.exited() {
			t.Fatalf("devnet exited before %s\noutput:\n%s", what, logTail(p.output.String()))
		}
		return false, "output:\n" + logTail(p.output.String())
	})
	return found
}

// alive reports whether a process runs; a zombie, dead but not yet reaped,
// does not.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !dirExists("/proc/self") // without /proc, kill(0) said it runs
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func dirExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// procsMentioning lists running processes whose command line contains s,
// where /proc exists.
func procsMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), s) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestDevnet runs `miner devnet -n 3 --mine`: the nodes must reach one tip,
// the table must show it and a node that dies, targets.json must list the
// nodes, and SIGINT must stop the launcher with exit 0 and leave no node
// behind, killing one that ignores it.
func TestDevnet(t *testing.T) {
	const n = 3
	dir := filepath.Join(t.TempDir(), "net")
	base := freePortRange(t, n)
	// regtest: blocks in a few hashes, so the nodes agree on a growing chain at once.
	p := startMiner(t, "devnet", "-n", strconv.Itoa(n), "--mine", "--network", "regtest", "--base-port", strconv.Itoa(base), "--dir", dir)
	var pids []int
	// startMiner's cleanup kills only the launcher; on Linux its nodes die
	// with it, elsewhere this does it.
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	t0 := time.Now()
	agreed := waitTable(t, p, 60*time.Second, "3 nodes up at one tip, height >= 1", func(rows []devnetRow) bool {
		if len(rows) != n {
			return false
		}
		for i, r := range rows {
			if r.state != "up" || r.id == "-" || r.height == "-" || r.height == "0" || r.height != rows[0].height || r.tip != rows[0].tip || r.peers == "0" {
				return false
			}
			if r.node != i || r.p2p != base+i || r.http != base+devnet.HTTPOffset+i {
				t.Fatalf("row %d: node%d ports %d/%d, want node%d ports %d/%d", i, r.node, r.p2p, r.http, i, base+i, base+devnet.HTTPOffset+i)
			}
		}
		return true
	})
	t.Logf("3 nodes at height %s, tip …%s, after %s", agreed[0].height, agreed[0].tip, time.Since(t0).Round(time.Millisecond))

	targetsPath := filepath.Join(dir, "targets.json")
	if out := p.output.String(); !strings.Contains(out, targetsPath) {
		t.Errorf("output does not name the targets file %s:\n%s", targetsPath, logTail(out))
	}
	body, err := os.ReadFile(targetsPath)
	if err != nil {
		t.Fatal(err)
	}
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(body, &groups); err != nil {
		t.Fatalf("targets.json: %v\n%s", err, body)
	}
	want := []string{"127.0.0.1:" + strconv.Itoa(base+100), "127.0.0.1:" + strconv.Itoa(base+101), "127.0.0.1:" + strconv.Itoa(base+102)}
	if len(groups) != 1 || strings.Join(groups[0].Targets, " ") != strings.Join(want, " ") || len(groups[0].Labels) != 0 {
		t.Errorf("targets.json:\n%s\nwant one group of targets %v without labels", body, want)
	}

	// The nodes themselves: regtest, mining, the full tip the table shortened.
	for i := range n {
		st, err := nodeAPI("http://127.0.0.1:" + strconv.Itoa(base+devnet.HTTPOffset+i)).Status(context.Background())
		if err != nil {
			t.Fatalf("node%d: %v", i, err)
		}
		if st.Network != "regtest" || !st.Mining {
			t.Errorf("node%d: network %q, mining %v: want regtest and true", i, st.Network, st.Mining)
		}
	}

	for i := range n {
		b, err := os.ReadFile(filepath.Join(dir, "node"+strconv.Itoa(i), "pid"))
		if err != nil {
			t.Fatalf("node%d pid file: %v", i, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || !alive(pid) {
			t.Fatalf("node%d pid file %q: want the PID of a running node", i, b)
		}
		pids = append(pids, pid)
	}

	// A node that dies shows as down; the launcher and the others go on.
	if err := syscall.Kill(pids[2], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitTable(t, p, 10*time.Second, "node2 down and the others up", func(rows []devnetRow) bool {
		return len(rows) == n && rows[0].state == "up" && rows[1].state == "up" && rows[2].state == "down"
	})
	// A node that ignores SIGINT (stopped: signals wait) is killed after 5 s.
	if err := syscall.Kill(pids[1], syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}

	t1 := time.Now()
	if code := p.signal(t, os.Interrupt, 10*time.Second).ExitCode(); code != 0 {
		t.Fatalf("devnet exited %d after SIGINT, want 0\noutput:\n%s", code, logTail(p.output.String()))
	}
	took := time.Since(t1)
	out := p.output.String()
	if !regexp.MustCompile(`(?m)^devnet: stopped 2 running nodes in .*, 1 killed after 5s without exiting`).MatchString(out) {
		t.Errorf("final output:\n%s\nwant a line saying 2 running nodes stopped, 1 of them killed", logTail(out))
	}
	if took < 4*time.Second {
		t.Errorf("devnet stopped in %s with a node ignoring SIGINT: want it to wait ~5 s before killing it", took)
	}
	t.Logf("stopped in %s (node1 stopped with SIGSTOP, node2 killed before)", took.Round(time.Millisecond))
	for i, pid := range pids {
		if alive(pid) {
			t.Errorf("node%d (pid %d) still runs after the launcher exited", i, pid)
		}
		if _, err := os.Stat(filepath.Join(dir, "node"+strconv.Itoa(i), "pid")); !os.IsNotExist(err) {
			t.Errorf("node%d pid file left behind (%v)", i, err)
		}
	}
	if left := procsMentioning(dir); len(left) > 0 {
		t.Errorf("processes still running with %s in their command line: %v", dir, left)
	}
}

// TestDevnetPdeathsig kills the launcher outright: its nodes must die with it.
func TestDevnetPdeathsig(t *testing.T) {
	if !dirExists("/proc/self") {
		t.Skip("no /proc: Pdeathsig is Linux only")
	}
	dir := filepath.Join(t.TempDir(), "net")
	base := freePortRange(t, 2)
	p := startMiner(t, "devnet", "-n", "2", "--base-port", strconv.Itoa(base), "--dir", dir)
	waitTable(t, p, 30*time.Second, "2 nodes up", func(rows []devnetRow) bool {
		return len(rows) == 2 && rows[0].state == "up" && rows[1].state == "up"
	})
	if len(procsMentioning(dir)) != 3 {
		t.Fatalf("processes mentioning %s: %v, want the launcher and 2 nodes", dir, procsMentioning(dir))
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.waitExit(t, 5*time.Second)
	waitFor(t, 5*time.Second, "the nodes die with their launcher", func() (bool, string) {
		left := procsMentioning(dir)
		return len(left) == 0, fmt.Sprintf("nodes %v still run", left)
	})
}

// TestDevnetBadInput checks that bad devnet requests exit 2 before starting
// anything.
func TestDevnetBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // substring of stderr
	}{
		{"no nodes", []string{"-n", "0"}, "--nodes 0"},
		{"too many nodes", []string{"-n", "65"}, "--nodes 65"},
		{"ports beyond 65535", []string{"-n", "3", "--base-port", "65334"}, "65536"},
		{"port zero", []string{"--base-port", "0"}, "--base-port 0"},
		{"port overflowing int", []string{"--base-port", "9223372036854775807"}, "--base-port 9223372036854775807"},
		{"unknown network", []string{"--network", "foo"}, `"foo"`},
		{"threads without mining", []string{"-t", "2"}, "--mine"},
		{"negative block interval", []string{"--mine", "--block-interval", "-1s"}, "--block-interval"},
		{"unknown log format", []string{"--log-format", "xml"}, `"xml"`},
		{"stray argument", []string{"extra"}, `"extra"`},
		{"manager on a node's port", []string{"--base-port", "19000", "--http", "19101"}, "--http 19101"},
		{"manager port beyond 65535", []string{"--http", "70000"}, "--http 70000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "net")
			r := runMiner(t, 10*time.Second, append([]string{"devnet", "--dir", dir}, tt.args...)...)
			if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q: want %d, nothing, and a message mentioning %q", r.code, r.stdout, r.stderr, exitUsage, tt.want)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("%s exists (%v): a refused devnet must create nothing", dir, err)
			}
		})
	}
}
