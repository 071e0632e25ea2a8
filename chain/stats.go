package chain

import (
	"sync"
	"time"
)

// ValidationBuckets are the upper bounds, in seconds, of the block validation
// histogram: from a bare header check to a full block of signed transfers on a
// slow disk.
var ValidationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// Stats are the chain's counters since start. The chain keeps them itself so
// that it imports no metrics library; the API exports them at scrape time.
type Stats struct {
	// Reorgs counts moves of the main chain that detached at least one block.
	Reorgs uint64
	// Validation is the time ProcessBlock took per block.
	Validation Histogram
}

// Histogram counts observations into fixed buckets.
type Histogram struct {
	Bounds []float64 // upper bounds, ascending; a last bucket holds the rest
	Counts []uint64  // per bucket, len(Bounds)+1, not cumulative
	Count  uint64
	Sum    float64
}

// Cumulative returns the count of observations at most each bound, as
// Prometheus histograms keep them.
func (h Histogram) Cumulative() map[float64]uint64 {
	out := make(map[float64]uint64, len(h.Bounds))
	var sum uint64
	for i, b := range h.Bounds {
		sum += h.Counts[i]
		out[b] = sum
	}
	return out
}

// stats is the chain's mutable Stats.
type stats struct {
	mu         sync.Mutex
	reorgs     uint64
	validation Histogram
}

func newStats() *stats {
	return &stats{validation: Histogram{Bounds: ValidationBuckets, Counts: make([]uint64, len(ValidationBuckets)+1)}}
}

func (s *stats) observeValidation(d time.Duration) {
	v := d.Seconds()
	i := 0
	for i < len(s.validation.Bounds) && v > s.validation.Bounds[i] {
		i++
	}
	s.mu.Lock()
	s.validation.Counts[i]++
	s.validation.Count++
	s.validation.Sum += v
	s.mu.Unlock()
}

func (s *stats) reorg() {
	s.mu.Lock()
	s.reorgs++
	s.mu.Unlock()
}

func (s *stats) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.validation
	h.Counts = append([]uint64(nil), h.Counts...)
	return Stats{Reorgs: s.reorgs, Validation: h}
}

// Stats returns the chain's counters since start.
func (c *Chain) Stats() Stats { return c.stats.snapshot() }
