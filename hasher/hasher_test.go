package hasher

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// bitcoinGenesis is Bitcoin's genesis header; its nonce is 2083236893.
const bitcoinGenesis = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"

func genesisWork(t testing.TB) Work {
	t.Helper()
	raw, err := hex.DecodeString(bitcoinGenesis)
	if err != nil {
		t.Fatal(err)
	}
	var w Work
	copy(w.Header[:], raw)
	binary.LittleEndian.PutUint32(w.Header[nonceOffset:], 0)
	// Target of bits 1d00ffff: 0xffff << 208, little-endian.
	w.Target[26], w.Target[27] = 0xff, 0xff
	return w
}

// easyWork is a random header with a target that about one hash in 2^bits meets.
func easyWork(rng *rand.Rand, bits int) Work {
	var w Work
	for i := range w.Header {
		w.Header[i] = byte(rng.Uint32())
	}
	for i := range w.Target {
		w.Target[i] = 0xff
	}
	for b := 0; b < bits; b++ {
		w.Target[31-b/8] &^= 0x80 >> (b % 8)
	}
	return w
}

var quiet = slog.New(slog.DiscardHandler)

func TestMeets(t *testing.T) {
	var lo, hi, mid [32]byte
	lo[0] = 1
	hi[31] = 1
	mid[31], mid[0] = 1, 1
	tests := []struct {
		name         string
		hash, target [32]byte
		want         bool
	}{
		{"equal", hi, hi, true},
		{"below", lo, hi, true},
		{"above", hi, lo, false},
		{"low byte decides", mid, hi, false},
		{"high byte decides", lo, mid, true},
	}
	for _, tt := range tests {
		if got := Meets(&tt.hash, &tt.target); got != tt.want {
			t.Errorf("%s: Meets = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCPUSearchFindsBitcoinGenesis(t *testing.T) {
	w := genesisWork(t)
	devs, _ := OpenAll(NewCPU(1))
	hits, err := devs[0].Search(&w, 2083236893-5000, 10000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hits, []uint32{2083236893}) {
		t.Fatalf("hits = %v, want [2083236893]", hits)
	}
	h := HashHeader(w.WithNonce(hits[0]))
	if got := hex.EncodeToString(reversed(h[:])); got != "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f" {
		t.Fatalf("hash = %s", got)
	}
}

func reversed(b []byte) []byte {
	r := slices.Clone(b)
	slices.Reverse(r)
	return r
}

// bruteForce lists the nonces in [start, start+count) that meet the target,
// one plain double hash at a time.
func bruteForce(w *Work, start, count uint64) []uint32 {
	var hits []uint32
	for n := start; n < start+count; n++ {
		h := HashHeader(w.WithNonce(uint32(n)))
		if Meets(&h, &w.Target) {
			hits = append(hits, uint32(n))
		}
	}
	return hits
}

// search runs one job to completion on a scheduler and returns its hits sorted.
func search(t *testing.T, devs []Device, w Work, start, count uint64) ([]uint32, *Scheduler, error) {
	t.Helper()
	s := NewScheduler(devs, quiet)
	var mu sync.Mutex
	var hits []uint32
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.SearchRange(ctx, w, start, count, func(h Hit) {
		mu.Lock()
		hits = append(hits, h.Nonce)
		mu.Unlock()
	})
	if ctx.Err() != nil {
		t.Fatal("search did not finish")
	}
	slices.Sort(hits)
	return hits, s, err
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
		{"end of nonce space", NonceSpace - 20000, 20000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := easyWork(rng, 6)
			devs, _ := OpenAll(NewCPU(2))
			got, s, err := search(t, devs, w, tc.start, tc.count)
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
	s := NewScheduler(nil, quiet)
	for _, r := range [][2]uint64{{0, 0}, {NonceSpace - 1, 2}, {NonceSpace, 1}, {1, 1<<64 - 1}} {
		if _, err := s.Submit(Work{}, r[0], r[1], nil); err == nil {
			t.Errorf("Submit(start %d, count %d) accepted", r[0], r[1])
		}
	}
}

// timedDevice wraps a real device and records when each Search on each work
// header returns, to see how quickly lanes leave stale work.
type timedDevice struct {
	Device
	mu   sync.Mutex
	last map[byte]time.Time // keyed by the work's first header byte
}

func (d *timedDevice) Search(w *Work, start, count uint32, hits []uint32) ([]uint32, error) {
	hits, err := d.Device.Search(w, start, count, hits)
	d.mu.Lock()
	d.last[w.Header[0]] = time.Now()
	d.mu.Unlock()
	return hits, err
}

// New work must reach every lane within 10 ms: lanes check for it between
// ranges, and ranges are sized to take about batchTime.
func TestStaleWorkDroppedWithin10ms(t *testing.T) {
	cpu, _ := OpenAll(NewCPU(2))
	dev := &timedDevice{Device: cpu[0], last: map[byte]time.Time{}}
	s := NewScheduler([]Device{dev}, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	const limit = 10 * time.Millisecond
	for i := range 6 {
		var w Work // zero target: nothing is ever found, lanes stay busy
		w.Header[0] = byte(i)
		submitted := time.Now()
		if _, err := s.Submit(w, 0, NonceSpace, nil); err != nil {
			t.Fatal(err)
		}
		// Long enough for every lane to leave the old work and tune its ranges.
		time.Sleep(100 * time.Millisecond)
		if i == 0 {
			continue
		}
		dev.mu.Lock()
		lag := dev.last[byte(i-1)].Sub(submitted)
		dev.mu.Unlock()
		t.Logf("switch %d: last range of stale work ended %v after the new work", i, lag)
		if lag > limit {
			t.Errorf("switch %d: stale work ran %v after new work, limit %v", i, lag, limit)
		}
	}
}

// faultyDevice is a real CPU device that fails the way broken hardware does.
type faultyDevice struct {
	Device
	fail     error // returned by every Search, if set
	wrongHit bool  // reports a nonce that does not meet the target
}

func (d *faultyDevice) Info() DeviceInfo {
	info := d.Device.Info()
	info.Index = 1
	return info
}

func (d *faultyDevice) Search(w *Work, start, count uint32, hits []uint32) ([]uint32, error) {
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
			healthy, _ := OpenAll(NewCPU(1))
			broken, _ := OpenAll(NewCPU(1))
			tc.faulty.Device = broken[0]
			w := easyWork(rand.New(rand.NewPCG(3, 4)), 30) // hits are rare: a wrong one stands out
			_, s, err := search(t, []Device{healthy[0], tc.faulty}, w, 0, 200000)
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
