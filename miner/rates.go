package miner

import (
	"sync"
	"time"
)

// windows are the spans hashrates are averaged over, shortest first.
var windows = []time.Duration{10 * time.Second, time.Minute, 15 * time.Minute}

// meter keeps one sample of every device's hash counter per tick, enough to
// average over the longest window.
type meter struct {
	mu      sync.Mutex
	samples []sample // oldest first
	keep    time.Duration
}

type sample struct {
	at     time.Time
	hashes []uint64 // per device, cumulative
}

func newMeter(keep time.Duration) *meter { return &meter{keep: keep} }

func (m *meter) add(at time.Time, hashes []uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples = append(m.samples, sample{at: at, hashes: hashes})
	// Keep one sample at least keep old, so the longest window can fill.
	drop := 0
	for drop+1 < len(m.samples) && at.Sub(m.samples[drop+1].at) >= m.keep {
		drop++
	}
	m.samples = m.samples[drop:]
}

// rate returns hashes per second over window for device i (or all devices when
// i < 0), and false until samples span the whole window.
func (m *meter) rate(window time.Duration, i int) (float64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.samples) < 2 {
		return 0, false
	}
	last := m.samples[len(m.samples)-1]
	for k := len(m.samples) - 2; k >= 0; k-- {
		old := m.samples[k]
		if span := last.at.Sub(old.at); span >= window {
			return float64(count(last.hashes, i)-count(old.hashes, i)) / span.Seconds(), true
		}
	}
	return 0, false
}

func count(hashes []uint64, i int) uint64 {
	if i >= 0 {
		return hashes[i]
	}
	var sum uint64
	for _, h := range hashes {
		sum += h
	}
	return sum
}
