package p2p

import (
	"math/rand/v2"
	"testing"
)

// The filter remembers at least its last half ids, forgets what came
// long before, and mistakes a new id for a seen one rarely.
func TestSeenFilter(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	f := newSeenFilter(20_000)
	ids := make([]uint64, 50_000)
	for i := range ids {
		ids[i] = rng.Uint64()
		if !f.put(ids[i]) {
			t.Fatalf("id %d of %d taken for one seen before", i, len(ids))
		}
		if f.put(ids[i]) {
			t.Fatalf("id %d put twice is new twice", i)
		}
	}
	for i, id := range ids[len(ids)-10_000:] {
		if !f.has(id) {
			t.Fatalf("one of the last 10,000 ids (%d) forgotten", i)
		}
	}
	forgotten := 0
	for _, id := range ids[:10_000] {
		if !f.has(id) {
			forgotten++
		}
	}
	if forgotten < 9_990 {
		t.Errorf("%d of the first 10,000 ids forgotten after 40,000 more, want all but false positives", forgotten)
	}
	const queries = 1_000_000
	wrong := 0
	for range queries {
		if f.has(rng.Uint64()) {
			wrong++
		}
	}
	if rate := float64(wrong) / queries; rate > 5e-5 {
		t.Errorf("false positives: %d in %d (%.1e), want under 5e-5", wrong, queries, rate)
	}
}
