package hasher_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
)

// BenchmarkScheduler is the CPU backend on every core through the scheduler,
// as the miner runs it; hasher/cpu's benchmarks measure each path on one core.
func BenchmarkScheduler(b *testing.B) {
	devs, _ := hasher.OpenAll(cpu.New(runtime.NumCPU()))
	s := hasher.NewScheduler(devs, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	var w hasher.Work
	for b.Loop() {
		if _, err := s.Submit(w, 0, hasher.NonceSpace, nil); err != nil {
			b.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		w.Header[0]++
	}
	cancel()
	<-done
	b.ReportMetric(float64(s.Stats()[0].Hashes)/b.Elapsed().Seconds(), "H/s")
}
