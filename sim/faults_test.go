package sim

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// ParseFault reads each fault flag's AT-UNTIL[:PERCENT%] into the fault of
// its kind, the nodes a share takes evenly spread (misbehaving ones
// halfway between those a crash takes), and refuses what is malformed.
func TestParseFault(t *testing.T) {
	for _, tc := range []struct {
		s     string
		kind  FaultKind
		want  Fault
		error string // a part of the error; "" for none
	}{
		{s: "2h-3h", kind: Partition, want: Fault{Kind: Partition, At: 2 * time.Hour, Until: 3 * time.Hour, Groups: Halves(10)}},
		{s: "5m-6m:20%", kind: Crash, want: Fault{Kind: Crash, At: 5 * time.Minute, Until: 6 * time.Minute, Nodes: []int{0, 5}}},
		{s: "1m-9m:20%", kind: BadBlocks, want: Fault{Kind: BadBlocks, At: time.Minute, Until: 9 * time.Minute, Nodes: []int{2, 7}}},
		{s: "0s-1h:1%", kind: BadBlocks, want: Fault{Kind: BadBlocks, Until: time.Hour, Nodes: []int{5}}},
		{s: "2h-3h:10%", kind: Partition, error: "want AT-UNTIL, e.g."},
		{s: "1m-9m", kind: BadBlocks, error: "want AT-UNTIL:PERCENT%"},
		{s: "9m-1m:10%", kind: BadBlocks, error: "AT before UNTIL"},
		{s: "1m-9m:10", kind: BadBlocks, error: "want a percentage"},
		{s: "1m-9m:0%", kind: Crash, error: "want a percentage"},
		{s: "1m-9m:101%", kind: BadBlocks, error: "want a percentage"},
		{s: "soon-later:10%", kind: BadBlocks, error: "AT before UNTIL"},
	} {
		f, err := ParseFault(tc.s, tc.kind, 10)
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
