package hasher

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Health is what a GPU's management library reports of it. A nil field is
// not available: no library (NVML), or a card without that sensor (a
// passively cooled card has no fan).
type Health struct {
	TemperatureC   *float64 `json:"temperature_celsius"`
	PowerW         *float64 `json:"power_watts"`
	FanPercent     *float64 `json:"fan_percent"`
	SMClockMHz     *float64 `json:"sm_clock_mhz"`
	MemoryClockMHz *float64 `json:"memory_clock_mhz"`
}

// Monitored is a Device that can report its Health (CUDA devices, through
// NVML). The error says why there is no reading at all.
type Monitored interface {
	Health() (Health, error)
}

// healthTTL is how long a device's Health reading serves: the lanes ask
// before every range when a temperature limit is set, and the API on every
// request, and each reading is several NVML calls.
const healthTTL = time.Second

// reading is a device's Health and when it was read.
type reading struct {
	health *Health
	at     time.Time
}

// health returns the device's Health, nil when it has none, read again
// once the last reading is healthTTL old. Two lanes that find it stale at
// once both read; either reading serves.
func (d *deviceState) health(now time.Time) *Health {
	if r := d.reading.Load(); r != nil && now.Sub(r.at) < healthTTL {
		return r.health
	}
	h := readHealth(d.dev)
	d.reading.Store(&reading{health: h, at: now})
	return h
}

// readHealth reads a device's Health, nil when it has none.
func readHealth(d Device) *Health {
	m, ok := d.(Monitored)
	if !ok {
		return nil
	}
	h, err := m.Health()
	if err != nil {
		return nil
	}
	return &h
}

// Watchdog bounds: a GPU Search that takes over watchdogFactor times the
// time its device tunes launches toward (or its lane's last Search took,
// for a device with fixed launch sizes), and at least watchdogFloor, has
// hung: the device is stopped and the node goes on without it. A lane's
// first Search may take watchdogFirst: drivers compile kernels at the first
// launch (PoCL per work-group size, CUDA's lazy module loading). CPU lanes
// are not watched: they cannot hang in a driver, and a stalled machine (a
// paused VM) must not cost the node its CPU miner.
const (
	watchdogFactor = 10
	watchdogFloor  = 5 * time.Second
	watchdogFirst  = 60 * time.Second
	watchdogTick   = 250 * time.Millisecond
)

// running is a Search in progress on one lane: the watchdog or the lane,
// whichever settles it first, completes its range in the job.
type running struct {
	job     *Job
	n       uint64
	began   time.Time
	limit   time.Duration
	leave   func() // Run need not wait for the lane any more
	settled atomic.Bool
}

// watchdogLimit is how long a lane's next Search may take, given its
// device's target time and the lane's last Search (0 before the first).
func watchdogLimit(target, lastTook time.Duration) time.Duration {
	if lastTook == 0 {
		return watchdogFirst
	}
	return max(watchdogFloor, watchdogFactor*max(target, lastTook))
}

// watchdog stops devices whose Search has hung, until ctx ends.
func (s *Scheduler) watchdog(ctx context.Context) {
	tick := time.NewTicker(watchdogTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, d := range s.devices {
				if d.dev.Info().Backend == CPUBackend {
					continue
				}
				for i := range d.lanes {
					r := d.lanes[i].Load()
					if r == nil || now.Sub(r.began) <= r.limit || !r.settled.CompareAndSwap(false, true) {
						continue
					}
					err := fmt.Errorf("device %s: a search has not returned after %v (limit %v)", d.dev.Info().ID(), now.Sub(r.began).Round(time.Millisecond), r.limit)
					s.stop(d, err)
					r.job.complete(r.n, err)
					r.leave()
				}
			}
		}
	}
}

// Temperature limit hysteresis: a paused device resumes this far below it.
const tempHysteresis = 5.0

// SetTempLimit pauses every Monitored device whose temperature reaches
// limit °C until it has cooled tempHysteresis below; 0 turns it off.
func (s *Scheduler) SetTempLimit(limit float64) { s.tempLimit.Store(&limit) }

// tooHot reports whether d must wait before its next range, and waits a
// second (or until ctx ends) when it must.
func (s *Scheduler) tooHot(ctx context.Context, d *deviceState) bool {
	limit := s.tempLimit.Load()
	if limit == nil || *limit <= 0 {
		return false
	}
	h := d.health(time.Now())
	if h == nil || h.TemperatureC == nil {
		return false
	}
	t, id := *h.TemperatureC, d.dev.Info().ID()
	switch paused := d.paused.Load(); {
	case !paused && t >= *limit:
		if d.paused.CompareAndSwap(false, true) {
			s.log.Warn("device paused: too hot", "device", id, "celsius", t, "limit", *limit)
		}
	case paused && t <= *limit-tempHysteresis:
		if d.paused.CompareAndSwap(true, false) {
			s.log.Info("device resumed: cooled down", "device", id, "celsius", t, "limit", *limit)
		}
		return false
	case !paused:
		return false
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
	return true
}
