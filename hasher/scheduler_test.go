package hasher_test

// The scheduler's tests, from outside the package: they need nothing
// unexported, and as an external test they can use hashertest's work and
// search helpers, which import hasher.

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/hasher/hashertest"
)

var quiet = slog.New(slog.DiscardHandler)

// bruteForce lists the nonces in [start, start+count) that meet the target,
// one plain double hash at a time.
func bruteForce(w *hasher.Work, start, count uint64) []uint32 {
	var hits []uint32
	for n := start; n < start+count; n++ {
		h := hasher.HashHeader(w.WithNonce(uint32(n)))
		if hasher.Meets(&h, &w.Target) {
			hits = append(hits, uint32(n))
		}
	}
	return hits
}

// The scheduler splits a range over lanes in batches; together they must find
// exactly the hits a plain loop finds, including at the very end of the nonce
// space where start+count is 2^32.
func TestSchedulerHitsEqualBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name         string
		start, count uint64
	}{
		{"small", 0, 1},
		{"middle", 1 << 31, 30000},
		{"end of nonce space", hasher.NonceSpace - 20000, 20000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := hashertest.EasyWork(rng, 6)
			devs, _ := hasher.OpenAll(cpu.New(2))
			s := hasher.NewScheduler(devs, quiet)
			got, err := hashertest.SearchRange(t, s, w, tc.start, tc.count, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want := bruteForce(&w, tc.start, tc.count)
			if !slices.Equal(got, want) {
				t.Fatalf("scheduler found %d hits, brute force %d", len(got), len(want))
			}
			if h := s.Stats()[0].Hashes; h != tc.count {
				t.Fatalf("hashed %d nonces, want %d", h, tc.count)
			}
		})
	}
}

func TestSubmitRejectsBadRange(t *testing.T) {
	s := hasher.NewScheduler(nil, quiet)
	for _, r := range [][2]uint64{{0, 0}, {hasher.NonceSpace - 1, 2}, {hasher.NonceSpace, 1}, {1, 1<<64 - 1}} {
		if _, err := s.Submit(hasher.Work{}, r[0], r[1], nil); err == nil {
			t.Errorf("Submit(start %d, count %d) accepted", r[0], r[1])
		}
	}
}

// New work must reach every lane within 10 ms: lanes check for it between
// ranges, and ranges are sized to take the device's Batch time (2 ms on the
// CPU). Each switch is judged on every Search of the old work
// (hashertest.TimedDevice records starts and ends), so a range still
// running at the check fails the test instead of going unseen.
func TestStaleWorkDroppedWithin10ms(t *testing.T) {
	devs, _ := hasher.OpenAll(cpu.New(hashertest.TimingLanes()))
	// Each work differs in its first header byte, which names it.
	dev := hashertest.NewTimedDevice(devs[0], func(w *hasher.Work) byte { return w.Header[0] })
	s := hasher.NewScheduler([]hasher.Device{dev}, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// submit makes work i current and returns the switch time, taken
	// before Submit so that the lag counts Submit itself.
	submit := func(i int) time.Time {
		var w hasher.Work // zero target: nothing is ever found, lanes stay busy
		w.Header[0] = byte(i)
		switched := time.Now()
		if _, err := s.Submit(w, 0, hasher.NonceSpace, nil); err != nil {
			t.Fatal(err)
		}
		return switched
	}
	const (
		limit = 10 * time.Millisecond
		// Long enough for every lane to leave the old work, tune its
		// ranges on the new one, and finish a few.
		settle = 100 * time.Millisecond
	)
	submit(0)
	time.Sleep(settle)
	dev.Switches(t, 5, limit, func(i int) (stale, fresh byte, switched time.Time) {
		switched = submit(i)
		time.Sleep(settle)
		return byte(i - 1), byte(i), switched
	})
}

// faultyDevice is a real CPU device that fails the way broken hardware does.
type faultyDevice struct {
	hasher.Device
	fail     error // returned by every Search, if set
	wrongHit bool  // reports a nonce that does not meet the target
}

func (d *faultyDevice) Info() hasher.DeviceInfo {
	info := d.Device.Info()
	info.Index = 1
	return info
}

func (d *faultyDevice) Search(w *hasher.Work, start, count uint32, hits []uint32) ([]uint32, error) {
	if d.fail != nil {
		return hits, d.fail
	}
	if d.wrongHit {
		return append(hits, start), nil
	}
	return d.Device.Search(w, start, count, hits)
}

// A failing device is stopped with its error counted and reported on the job;
// the healthy device still searches the whole range, so no hit is lost.
func TestFailingDeviceIsStopped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faulty *faultyDevice
	}{
		{"launch failure", &faultyDevice{fail: errors.New("device lost")}},
		{"hit fails CPU re-check", &faultyDevice{wrongHit: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			healthy, _ := hasher.OpenAll(cpu.New(1))
			broken, _ := hasher.OpenAll(cpu.New(1))
			tc.faulty.Device = broken[0]
			w := hashertest.EasyWork(rand.New(rand.NewPCG(3, 4)), 30) // hits are rare: a wrong one stands out
			s := hasher.NewScheduler([]hasher.Device{healthy[0], tc.faulty}, quiet)
			_, err := hashertest.SearchRange(t, s, w, 0, 200000, 30*time.Second)
			if err == nil {
				t.Fatal("job reports no device error")
			}
			st := s.Stats()
			if st[1].Errors == 0 || !st[1].Stopped {
				t.Fatalf("faulty device stats %+v: want errors counted and stopped", st[1])
			}
			if st[0].Stopped || st[0].Hashes == 0 {
				t.Fatalf("healthy device stats %+v: want it hashing", st[0])
			}
		})
	}
}

// concurrentDevice records the most Search calls it ran at once.
type concurrentDevice struct {
	hasher.Device
	mu        sync.Mutex
	now, most int
}

func (d *concurrentDevice) Search(w *hasher.Work, start, count uint32, hits []uint32) ([]uint32, error) {
	d.mu.Lock()
	d.now++
	d.most = max(d.most, d.now)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.now--
		d.mu.Unlock()
	}()
	return d.Device.Search(w, start, count, hits)
}

// SetThreads leaves the lanes above it idle, and the lanes that hash still
// find every hit.
func TestSetThreads(t *testing.T) {
	devs, err := hasher.OpenAll(cpu.New(4))
	if err != nil {
		t.Fatal(err)
	}
	dev := &concurrentDevice{Device: devs[0]}
	s := hasher.NewScheduler([]hasher.Device{dev}, quiet)
	if active, most := s.Threads(); active != 4 || most != 4 {
		t.Fatalf("Threads() = %d, %d; want 4, 4", active, most)
	}
	for _, bad := range []int{0, 5, -1} {
		if err := s.SetThreads(bad); err == nil {
			t.Errorf("SetThreads(%d) succeeded on a 4-lane device", bad)
		}
	}
	if err := s.SetThreads(2); err != nil {
		t.Fatal(err)
	}
	w := hashertest.EasyWork(rand.New(rand.NewPCG(5, 6)), 12)
	const count = 1 << 18
	hits, err := hashertest.SearchRange(t, s, w, 0, count, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := bruteForce(&w, 0, count); !slices.Equal(hits, want) {
		t.Errorf("%d hits with 2 threads, want %d", len(hits), len(want))
	}
	if dev.most != 2 {
		t.Errorf("at most %d searches ran at once with 2 threads", dev.most)
	}
	if active, _ := s.Threads(); active != 2 {
		t.Errorf("Threads() active %d, want 2", active)
	}
	if err := hasher.NewScheduler(nil, quiet).SetThreads(1); !errors.Is(err, hasher.ErrNoCPU) {
		t.Errorf("SetThreads without a CPU device: %v, want ErrNoCPU", err)
	}
}
