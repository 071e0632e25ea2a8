package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/sim"
)

// parseFault reads each fault flag's AT-UNTIL[:PERCENT%] into the fault of
// its kind, the nodes a share takes evenly spread (misbehaving ones
// halfway between those a crash takes), and refuses what is malformed.
func TestParseFault(t *testing.T) {
	for _, tc := range []struct {
		s     string
		kind  sim.FaultKind
		want  sim.Fault
		error string // a part of the error; "" for none
	}{
		{s: "2h-3h", kind: sim.Partition, want: sim.Fault{Kind: sim.Partition, At: 2 * time.Hour, Until: 3 * time.Hour, Groups: sim.Halves(10)}},
		{s: "5m-6m:20%", kind: sim.Crash, want: sim.Fault{Kind: sim.Crash, At: 5 * time.Minute, Until: 6 * time.Minute, Nodes: []int{0, 5}}},
		{s: "1m-9m:20%", kind: sim.BadBlocks, want: sim.Fault{Kind: sim.BadBlocks, At: time.Minute, Until: 9 * time.Minute, Nodes: []int{2, 7}}},
		{s: "0s-1h:1%", kind: sim.BadBlocks, want: sim.Fault{Kind: sim.BadBlocks, Until: time.Hour, Nodes: []int{5}}},
		{s: "2h-3h:10%", kind: sim.Partition, error: "want AT-UNTIL, e.g."},
		{s: "1m-9m", kind: sim.BadBlocks, error: "want AT-UNTIL:PERCENT%"},
		{s: "9m-1m:10%", kind: sim.BadBlocks, error: "AT before UNTIL"},
		{s: "1m-9m:10", kind: sim.BadBlocks, error: "want a percentage"},
		{s: "1m-9m:0%", kind: sim.Crash, error: "want a percentage"},
		{s: "1m-9m:101%", kind: sim.BadBlocks, error: "want a percentage"},
		{s: "soon-later:10%", kind: sim.BadBlocks, error: "AT before UNTIL"},
	} {
		f, err := parseFault(tc.s, tc.kind, 10)
		switch {
		case tc.error == "" && err != nil:
			t.Errorf("%v %q: %v", tc.kind, tc.s, err)
		case tc.error == "" && !reflect.DeepEqual(f, tc.want):
			t.Errorf("%v %q: %+v, want %+v", tc.kind, tc.s, f, tc.want)
		case tc.error != "" && (err == nil || !strings.Contains(err.Error(), tc.error)):
			t.Errorf("%v %q: %v, want an error with %q", tc.kind, tc.s, err, tc.error)
		}
	}
}

// A malformed --bad-blocks exits 2 and names the flag, before any run.
func TestSimBadBlocksFlag(t *testing.T) {
	code, _, stderr := runMain(t, "sim", "-n", "4", "--bad-blocks", "1m-2m")
	if code != exitUsage || !strings.Contains(stderr, `--bad-blocks "1m-2m": want AT-UNTIL:PERCENT%`) {
		t.Errorf("exit %d, stderr %q: want %d and the flag's error", code, stderr, exitUsage)
	}
}
