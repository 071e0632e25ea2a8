package hasher

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/kernels"
)

// sevens is a Launch that reports every nonce divisible by 7 as a hit, and
// claims all its nonces as hits for launches above maxClean nonces: a
// kernel whose list overflowed.
func sevens(maxClean uint32, launches *[]uint32) Launch {
	return func(job *kernels.Job, out []uint32) (uint32, error) {
		start, count := job[29], job.Count()
		*launches = append(*launches, count)
		if count > maxClean {
			return count, nil
		}
		var n uint32
		for i := range count {
			if (start+i)%7 == 0 {
				out[n] = start + i
				n++
			}
		}
		return n, nil
	}
}

// An overflowing launch is searched again in halves until each fits, and
// no hit is lost.
func TestSearchGPUSplitsOverflow(t *testing.T) {
	var w Work // a zero target: the whole range in one launch
	const start, count = 1<<32 - 1<<21, 1 << 21
	var launches []uint32
	out := make([]uint32, kernels.ResultCap)
	got, err := SearchGPU(sevens(1<<19, &launches), out, &w, start, count, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []uint32
	for n := uint64(start); n < 1<<32; n++ {
		if n%7 == 0 {
			want = append(want, uint32(n))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("found %d hits, want %d", len(got), len(want))
	}
	// 2^21 and both halves of 2^20 overflow; the quarters of 2^19 fit.
	if want := []uint32{1 << 21, 1 << 20, 1 << 19, 1 << 19, 1 << 20, 1 << 19, 1 << 19}; !slices.Equal(launches, want) {
		t.Errorf("launches of %v, want %v", launches, want)
	}
}

// Launch sizes follow the target: an easy one gets launches whose expected
// hits fill half the result list; a hard one, the whole range at once.
func TestLaunchNonces(t *testing.T) {
	var regtest, half, hard [32]byte
	regtest[31] = 0x7f // top word 0x7fffff00, as bits 207fffff give
	regtest[30], regtest[29] = 0xff, 0xff
	half[31] = 0x7f
	for i := range 31 {
		half[i] = 0xff
	}
	hard[27], hard[26] = 0xff, 0xff // bits 1d00ffff
	for _, tt := range []struct {
		name   string
		target [32]byte
		lo, hi uint64
	}{
		{"regtest", regtest, kernels.ResultCap - 2, kernels.ResultCap},
		{"half of all hashes", half, kernels.ResultCap - 2, kernels.ResultCap},
		{"Bitcoin's first difficulty", hard, NonceSpace, NonceSpace},
	} {
		if n := launchNonces(&tt.target); n < tt.lo || n > tt.hi {
			t.Errorf("%s: %d nonces a launch, want %d to %d", tt.name, n, tt.lo, tt.hi)
		}
	}
}

// A kernel that reports nonces it was not given, or more hits than nonces,
// computes wrong results: an error, not hits.
func TestSearchGPURefusesWrongResults(t *testing.T) {
	var w Work
	out := make([]uint32, kernels.ResultCap)
	for name, launch := range map[string]Launch{
		"nonce outside the launch": func(job *kernels.Job, out []uint32) (uint32, error) { out[0] = job[29] - 1; return 1, nil },
		"more hits than nonces":    func(job *kernels.Job, out []uint32) (uint32, error) { return job.Count() + 1, nil },
	} {
		if _, err := SearchGPU(launch, out, &w, 100, 10, nil); err == nil || !strings.Contains(err.Error(), "wrong results") {
			t.Errorf("%s: err = %v, want one about wrong results", name, err)
		}
	}
	failing := errors.New("launch failed")
	if _, err := SearchGPU(func(*kernels.Job, []uint32) (uint32, error) { return 0, failing }, out, &w, 0, 10, nil); !errors.Is(err, failing) {
		t.Errorf("err = %v, want the launch's", err)
	}
}

// A search that would list more hits than the result list holds stops
// there: its hits are good, and the error says how far it got.
func TestSearchGPUStopsWhenFull(t *testing.T) {
	var w Work // a zero target: one launch per range, but for overflows
	var launches []uint32
	out := make([]uint32, kernels.ResultCap)
	// One nonce in seven "hits": 2^24 nonces hold 2.4 million.
	hits, err := SearchGPU(sevens(1<<22, &launches), out, &w, 0, 1<<24, nil)
	var full *TooManyHitsError
	if !errors.As(err, &full) {
		t.Fatalf("err = %v, want a *TooManyHitsError", err)
	}
	if len(hits) < kernels.ResultCap || full.Hits != len(hits) || full.Count != 1<<24 || full.Searched >= 1<<24 || full.Searched == 0 {
		t.Errorf("%d hits, %+v: want at least %d hits and part of the range searched", len(hits), full, kernels.ResultCap)
	}
	for i, h := range hits {
		if h%7 != 0 || i > 0 && h <= hits[i-1] {
			t.Fatalf("hit %d is %d: not one the kernel reported", i, h)
		}
	}
}

func TestShapeCheck(t *testing.T) {
	for _, tt := range []struct {
		s  Shape
		ok bool
	}{
		{Shape{}, true}, {Shape{Threads: 32, Nonces: 1}, true}, {Shape{Threads: 256, Nonces: kernels.MaxNoncesPerThread}, true},
		{Shape{Threads: 16}, false}, {Shape{Threads: 512}, false}, {Shape{Threads: 96}, false},
		{Shape{Nonces: -1}, false}, {Shape{Nonces: kernels.MaxNoncesPerThread + 1}, false},
	} {
		if err := tt.s.Check(); (err == nil) != tt.ok {
			t.Errorf("%+v: Check() = %v, want ok %v", tt.s, err, tt.ok)
		}
	}
}

func TestLaunchIntensity(t *testing.T) {
	for _, tt := range []struct{ in, want int }{
		{-3, 0}, {0, 0}, {1, MinIntensity}, {MinIntensity, MinIntensity}, {22, 22},
		{MaxIntensity, MaxIntensity}, {40, MaxIntensity},
	} {
		if got := LaunchIntensity(tt.in); got != tt.want {
			t.Errorf("LaunchIntensity(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
