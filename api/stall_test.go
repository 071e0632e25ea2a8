package api

import (
	"testing"
	"time"

	"github.com/hashforge/hashforge/p2p"
)

// TestStallWatch: the node counts as behind from the first check that sees
// it behind at a height; a new height while behind starts the count again,
// and catching up ends it.
func TestStallWatch(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	behind := func(height uint64) p2p.SyncStatus {
		return p2p.SyncStatus{Syncing: true, Height: height, BestKnown: height + 10}
	}
	var w stallWatch
	for _, step := range []struct {
		name string
		at   time.Duration
		sync p2p.SyncStatus
		want time.Duration
	}{
		{"level with the peers", 0, p2p.SyncStatus{Height: 5, BestKnown: 5}, 0},
		{"first seen behind", time.Minute, behind(5), 0},
		{"still at that height", 3 * time.Minute, behind(5), 2 * time.Minute},
		{"a block connected", 4 * time.Minute, behind(6), 0},
		{"stuck again", 5 * time.Minute, behind(6), time.Minute},
		{"caught up", 6 * time.Minute, p2p.SyncStatus{Height: 16, BestKnown: 16}, 0},
		{"behind again later", 9 * time.Minute, behind(16), 0},
	} {
		if got := w.behind(step.sync, t0.Add(step.at)); got != step.want {
			t.Errorf("%s: behind %s, want %s", step.name, got, step.want)
		}
	}
}
