package hasher

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"testing"
	"time"
)

// reportHashrate reports hashes per second of b's elapsed time.
func reportHashrate(b *testing.B, hashes uint64) {
	b.ReportMetric(float64(hashes)/b.Elapsed().Seconds(), "H/s")
}

// BenchmarkSHA256dBaseline is the yardstick: a plain crypto/sha256 double hash
// of the whole header per nonce, on one core.
func BenchmarkSHA256dBaseline(b *testing.B) {
	w := genesisWork(b)
	var sink byte
	for i := 0; b.Loop(); i++ {
		binary.LittleEndian.PutUint32(w.Header[nonceOffset:], uint32(i))
		first := sha256.Sum256(w.Header[:])
		second := sha256.Sum256(first[:])
		sink ^= second[31]
	}
	_ = sink
	reportHashrate(b, uint64(b.N))
}

// BenchmarkCPUSearch is the CPU backend on one core: the midstate path.
func BenchmarkCPUSearch(b *testing.B) {
	w := genesisWork(b)
	devs, _ := OpenAll(NewCPU(1))
	const batch = 1 << 14
	var hits []uint32
	n := uint64(0)
	for b.Loop() {
		hits, _ = devs[0].Search(&w, uint32(n), batch, hits[:0])
		n += batch
	}
	reportHashrate(b, n)
}

// BenchmarkScheduler is the CPU backend on every core through the scheduler,
// as the miner runs it.
func BenchmarkScheduler(b *testing.B) {
	devs, _ := OpenAll(NewCPU(runtime.NumCPU()))
	s := NewScheduler(devs, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	var w Work
	for b.Loop() {
		if _, err := s.Submit(w, 0, NonceSpace, nil); err != nil {
			b.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		w.Header[0]++
	}
	cancel()
	<-done
	reportHashrate(b, s.Stats()[0].Hashes)
}
