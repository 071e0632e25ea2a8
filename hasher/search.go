package hasher

import (
	"context"
	"log/slog"
	"sync"
)

// Search searches nonces [start, start+count) of w on devices, outside any
// node, calling onHit for each hit, one call at a time, and returns how many
// nonces the devices hashed: interrupted, that is fewer than count.
func Search(ctx context.Context, devices []Device, w Work, start, count uint64, onHit func(Hit)) (hashes uint64, err error) {
	sched := NewScheduler(devices, slog.New(slog.DiscardHandler))
	var mu sync.Mutex
	err = sched.SearchRange(ctx, w, start, count, func(h Hit) {
		mu.Lock()
		defer mu.Unlock()
		onHit(h)
	})
	for _, h := range sched.Hashes() {
		hashes += h
	}
	return hashes, err
}
