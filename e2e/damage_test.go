//go:build unix

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/store"
)

// refused requires a command that failed as it must on a damaged datadir:
// exit status 1 (a process a signal ends has none), a message naming the
// datadir and what is wrong, and no sign of a crash.
func refused(t *testing.T, who string, r result, dir, want string) {
	t.Helper()
	for _, crash := range []string{"panic", "goroutine ", "SIGBUS", "SIGSEGV", "fatal error"} {
		if strings.Contains(r.stderr, crash) {
			t.Errorf("%s crashed (%q): exit %d, stderr:\n%s", who, crash, r.code, logTail(r.stderr))
			return
		}
	}
	if r.code != exitFailure || !strings.Contains(r.stderr, dir) || !strings.Contains(r.stderr, want) {
		t.Errorf("%s: exit %d, stderr:\n%s\nwant exit %d and a message naming %s and %q", who, r.code, logTail(r.stderr), exitFailure, dir, want)
	}
}

// TestReindex: an intact chain rebuilds to the same tip, and the node goes
// on mining from it; reindex refuses a datadir a node runs on, and one of
// another network, and leaves both as they were.
func TestReindex(t *testing.T) {
	dir := t.TempDir()
	mineAndStop(t, nodeOpts{datadir: dir, interval: "20ms"}, 5)
	before := verify(t, "regtest", dir)
	height := verifiedHeight(t, "regtest", before)
	_, tip, _ := strings.Cut(before.stdout, ", height ") // "N, tip HASH\n"

	n := startNode(t, "running", nodeOpts{datadir: dir})
	refused(t, "reindex beside a node", reindex(t, "regtest", dir), dir, "in use")
	n.stop(t, 5*time.Second)
	refused(t, "reindex as devnet", reindex(t, "devnet", dir), dir, "wrong --network")

	r := reindex(t, "regtest", dir)
	if okHeight(t, "reindexed", "regtest", r); !strings.Contains(r.stdout, ", height "+tip) {
		t.Errorf("reindex printed %q: want the tip verify printed, height %s", r.stdout, tip)
	}
	kept, err := filepath.Glob(filepath.Join(dir, store.FileName+".damaged-*"))
	if err != nil || len(kept) != 1 || !strings.Contains(r.stdout, kept[0]) {
		t.Errorf("old files %v, printed %q: want the one it names", kept, r.stdout)
	}
	verifiedHeight(t, "regtest", verify(t, "regtest", dir))
	startNode(t, "after reindex", nodeOpts{datadir: dir, mine: true, interval: "20ms"}).waitHeight(t, 30*time.Second, height+3)
}
