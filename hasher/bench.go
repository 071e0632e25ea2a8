package hasher

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"
)

// Bench hashes random work on devices for d, or until ctx ends, and
// returns each device's counters and how long it ran. The target is zero,
// so every nonce is hashed and none is a hit; when a header's nonces run
// out, the next header differs in its first byte, as a rolled extranonce
// would make it. One routine serves every backend, so their figures compare.
func Bench(ctx context.Context, devices []Device, d time.Duration) ([]DeviceStats, time.Duration, error) {
	var w Work
	rand.Read(w.Header[:])
	sched := NewScheduler(devices, slog.New(slog.DiscardHandler))
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan struct{})
	t0 := time.Now()
	go func() { sched.Run(runCtx); close(done) }()
	var err error
	for runCtx.Err() == nil && err == nil {
		var job *Job
		if job, err = sched.Submit(w, 0, NonceSpace, nil); err != nil {
			break
		}
		select {
		case <-runCtx.Done():
		case <-job.Exhausted():
			w.Header[0]++
		}
	}
	cancel()
	<-done
	// Interrupted early, the figures still hold for the time that ran.
	return sched.Stats(), time.Since(t0), err
}
