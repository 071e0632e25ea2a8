//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/internal/testenv"
)

// mountTmpfs mounts a tmpfs of size (as mount's size= option takes it) on
// a fresh folder, unmounted when the test ends. It needs root: elsewhere the
// test skips, unless the run promised root (testenv).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root", "mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		testenv.Missing(t, "root", fmt.Sprintf("mount a tmpfs: %v", err))
	}
	// Registered after TempDir's removal, so it runs before it; nodes the
	// test starts later are killed before this runs.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// resizeTmpfs changes the size of a tmpfs mountTmpfs mounted.
func resizeTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size="+size); err != nil {
		t.Fatalf("remount %s with size %s: %v", dir, size, err)
	}
}

var stoppedLine = regexp.MustCompile(`(?m)^time=(\S+) level=ERROR msg="mining stopped[^\n]* hash=([0-9a-f]{64})`)

// TestDiskFullStopsMining fills a small tmpfs with a node mining unpaced
// regtest blocks. Once the disk is full the node must say so within 2 s
// (mining false, with the reason), then sit quietly: fewer than 10 log lines
// and under 5 % of a core over 10 s, while it still answers. Grown, the
// tmpfs takes the block the node found, and mining resumes without a
// restart; the chain verifies once the node has stopped.
func TestDiskFullStopsMining(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	n := startNode(t, "A", nodeOpts{datadir: filepath.Join(dir, "data"), mine: true, interval: "0"})

	var st *apiclient.Status
	waitFor(t, 100*time.Second, "mining stopped on a full disk", func() (bool, string) {
		n.checkRunning(t)
		var err error
		if st, err = n.status(); err != nil {
			return false, err.Error()
		}
		return st.MiningError != "", fmt.Sprintf("height %d, mining %v", st.Height, st.Mining)
	})
	seen := time.Now()
	if st.Mining || !strings.Contains(st.MiningError, "no space left on device") {
		t.Fatalf("status on a full disk: mining %v, mining_error %q; want false and the reason", st.Mining, st.MiningError)
	}
	m := stoppedLine.FindStringSubmatchIndex(n.log())
	if m == nil {
		t.Fatal(`no "mining stopped" error in the log`)
	}
	logged := n.log()[:m[1]]
	failedAt, err := time.Parse(time.RFC3339Nano, logged[m[2]:m[3]])
	if err != nil {
		t.Fatal(err)
	}
	found, stuck := logged[m[4]:m[5]], st.Height
	toStop := seen.Sub(failedAt)
	if toStop > 2*time.Second {
		t.Errorf("the status showed the failed write %v after the log did, want within 2 s", toStop)
	}

	// The quiet window, from the line that says mining stopped.
	cpu0 := cpuTime(t, n.pid())
	t0 := time.Now()
	time.Sleep(10 * time.Second)
	cpu := float64(cpuTime(t, n.pid())-cpu0) / float64(time.Since(t0))
	lines := strings.Count(n.log()[len(logged):], "\n") - 1 // the rest of the stop line
	st = n.mustStatus(t)
	t.Logf("disk full: status showed it %v after the failed write; in the next 10 s %d log lines, %.2f %% CPU", toStop.Round(time.Millisecond), lines, 100*cpu)
	if lines >= 10 {
		t.Errorf("%d log lines in 10 s on a full disk, want fewer than 10", lines)
	}
	if cpu >= 0.05 {
		t.Errorf("%.1f %% of a core in 10 s on a full disk, want under 5 %%", 100*cpu)
	}
	if st.Mining || st.MiningError == "" || st.Height != stuck {
		t.Errorf("after 10 s on a full disk: mining %v, mining_error %q, height %d (was %d)", st.Mining, st.MiningError, st.Height, stuck)
	}

	resizeTmpfs(t, dir, "16m")
	grown := time.Now()
	waitFor(t, 45*time.Second, "mining resumed on the grown tmpfs", func() (bool, string) {
		n.checkRunning(t)
		st, err := n.status()
		if err != nil {
			return false, err.Error()
		}
		return st.Mining && st.MiningError == "" && st.Height > stuck+1, fmt.Sprintf("height %d, mining %v, mining_error %q", st.Height, st.Mining, st.MiningError)
	})
	t.Logf("mining resumed %v after the tmpfs grew", time.Since(grown).Round(time.Millisecond))
	body, err := httpGet(fmt.Sprintf("%s/api/blocks/%d", n.url(), stuck+1))
	if err != nil {
		t.Fatal(err)
	}
	var block apiclient.BlockSummary
	if err := json.Unmarshal(body, &block); err != nil {
		t.Fatal(err)
	}
	if block.Hash.String() != found {
		t.Errorf("block %d is %s, want %s, the one found when the disk filled", stuck+1, block.Hash, found)
	}
	n.stop(t, 5*time.Second)
	if h := verifiedHeight(t, "regtest", verify(t, "regtest", n.datadir)); h <= stuck+1 {
		t.Errorf("verified height %d, want past %d", h, stuck+1)
	}
}
