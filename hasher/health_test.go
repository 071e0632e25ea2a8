package hasher

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hangDevice hashes nothing: its first Search returns at once, every later
// one blocks until release is closed, as a GPU launch that never returns.
type hangDevice struct {
	calls   atomic.Int64
	release chan struct{}
	temp    atomic.Pointer[float64] // Health's temperature, nil: no reading
}

func (d *hangDevice) Info() DeviceInfo               { return DeviceInfo{Backend: "fake", Name: "hang"} }
func (d *hangDevice) Lanes() int                     { return 1 }
func (d *hangDevice) Batch() (uint64, time.Duration) { return 1000, 10 * time.Millisecond }
func (d *hangDevice) Search(*Work, uint32, uint32, []uint32) ([]uint32, error) {
	if d.calls.Add(1) > 1 {
		<-d.release
	}
	return nil, nil
}

func (d *hangDevice) Health() (Health, error) {
	return Health{TemperatureC: d.temp.Load()}, nil
}

// A search that never returns stops its device within the watchdog's bound,
// with an error for the job; the scheduler and the caller go on.
func TestWatchdogStopsHungDevice(t *testing.T) {
	d := &hangDevice{release: make(chan struct{})}
	defer close(d.release)
	s := NewScheduler([]Device{d}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t0 := time.Now()
	err := s.SearchRange(ctx, Work{}, 0, 10000, nil)
	took := time.Since(t0)
	if err == nil || !strings.Contains(err.Error(), "has not returned") {
		t.Fatalf("SearchRange = %v after %v: want the watchdog's error", err, took)
	}
	if took < watchdogFloor || took > watchdogFloor+2*time.Second {
		t.Errorf("stopped after %v, want just over the %v floor", took, watchdogFloor)
	}
	if watchdogLimit(10*time.Millisecond, 0) != watchdogFirst {
		t.Errorf("a lane's first search may take %v, want %v", watchdogLimit(10*time.Millisecond, 0), watchdogFirst)
	}
	if st := s.Stats()[0]; !st.Stopped || st.Errors != 1 {
		t.Errorf("stats %+v: want stopped with one error", st)
	}
}

// Above the temperature limit a device waits; it resumes only once it has
// cooled by the hysteresis.
func TestTempLimitPausesAndResumes(t *testing.T) {
	d := &hangDevice{release: make(chan struct{})}
	close(d.release) // no hanging here
	hot, warm, cool := 85.0, 78.0, 70.0
	d.temp.Store(&hot)
	s := NewScheduler([]Device{d}, slog.New(slog.DiscardHandler))
	s.SetTempLimit(80)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	s.Submit(Work{}, 0, NonceSpace, nil)

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: stats %+v", what, s.Stats()[0])
			}
		}
	}
	waitFor("paused while hot", func() bool { return s.Stats()[0].Paused })
	before := d.calls.Load()
	d.temp.Store(&warm) // below the limit, not below the hysteresis
	time.Sleep(1500 * time.Millisecond)
	if st := s.Stats()[0]; !st.Paused || d.calls.Load() != before {
		t.Fatalf("at %v °C, %v below the limit: paused %v, %d searches since; want still paused", warm, 80-warm, st.Paused, d.calls.Load()-before)
	}
	d.temp.Store(&cool)
	waitFor("resumed once cool", func() bool { return !s.Stats()[0].Paused && d.calls.Load() > before })
	if h := s.Stats()[0].Health; h == nil || h.TemperatureC == nil || *h.TemperatureC != cool {
		t.Errorf("health %+v: want the device's temperature", h)
	}
}

// fullDevice ends every search after its first three nonces, all hits, as a
// GPU search whose hit list filled.
type fullDevice struct{}

func (fullDevice) Info() DeviceInfo               { return DeviceInfo{Backend: "fake", Name: "full"} }
func (fullDevice) Lanes() int                     { return 1 }
func (fullDevice) Batch() (uint64, time.Duration) { return 1000, 0 }
func (fullDevice) Search(_ *Work, start, count uint32, hits []uint32) ([]uint32, error) {
	hits = append(hits, start, start+1, start+2)
	return hits, &TooManyHitsError{Hits: 3, Searched: 3, Count: count}
}

// A search that ended with a full hit list keeps its device: its hits are
// reported, the nonces it searched counted, and the job says its hits are
// not all listed.
func TestFullSearchKeepsDevice(t *testing.T) {
	var w Work
	for i := range w.Target {
		w.Target[i] = 0xff // every nonce is a hit
	}
	s := NewScheduler([]Device{fullDevice{}}, slog.New(slog.DiscardHandler))
	var mu sync.Mutex
	var got []uint32
	err := s.SearchRange(context.Background(), w, 0, 3000, func(h Hit) {
		mu.Lock()
		got = append(got, h.Nonce)
		mu.Unlock()
	})
	var full *TooManyHitsError
	if !errors.As(err, &full) {
		t.Fatalf("SearchRange = %v, want the full list's error", err)
	}
	st := s.Stats()[0]
	if st.Stopped || st.Errors != 0 || st.Hashes != 9 || len(got) != 9 {
		t.Errorf("stats %+v, %d hits: want the device running, 9 nonces counted, 9 hits", st, len(got))
	}
}
