package main

import (
	"strings"
	"testing"
)

// A malformed --bad-blocks exits 2 and names the flag, before any run.
func TestSimBadBlocksFlag(t *testing.T) {
	code, _, stderr := runMain(t, "sim", "-n", "4", "--bad-blocks", "1m-2m")
	if code != exitUsage || !strings.Contains(stderr, `--bad-blocks "1m-2m": want AT-UNTIL:PERCENT%`) {
		t.Errorf("exit %d, stderr %q: want %d and the flag's error", code, stderr, exitUsage)
	}
}
