package sim

import (
	"context"
	"testing"
	"time"
)

// BenchmarkEngine1000 is the bare engine: 1,000 flooding test nodes of 8
// peers on SimBlock's regions, 10 blocks of 535 kB (SimBlock's Bitcoin
// block size) per op; every node forwards each block once to every peer.
func BenchmarkEngine1000(b *testing.B) {
	var events int64
	var wall time.Duration
	var heap uint64
	for b.Loop() {
		cfg := DefaultConfig()
		cfg.Nodes, cfg.Blocks = 1000, 10
		r, err := Run(context.Background(), cfg, newFlood(535_000))
		if err != nil {
			b.Fatal(err)
		}
		events += r.Events
		wall += time.Duration(r.WallS * float64(time.Second))
		heap = max(heap, r.PeakHeapBytes)
	}
	b.ReportMetric(float64(events)/wall.Seconds(), "events/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
	b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
}
