package cuda

// Tests and a benchmark that need an NVIDIA GPU and its driver; elsewhere
// they skip, saying why. The CPU backend is the reference: every GPU search
// must return exactly the CPU's hits.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/hashertest"
)

// gpuInfos lists the CUDA devices, skipping the test where there is no
// driver or no device.
func gpuInfos(t testing.TB) []hasher.DeviceInfo {
	t.Helper()
	if err := driver(); errors.Is(err, errNoDriver) {
		t.Skip("GPU test skipped: no CUDA driver (libcuda.so.1 not found)")
	}
	infos, err := New(hasher.GPUOptions{}).List()
	var e *Error
	if errors.As(err, &e) && e.Name == "CUDA_ERROR_NO_DEVICE" || err != nil && strings.Contains(err.Error(), "no device found") {
		t.Skipf("GPU test skipped: %v", err)
	}
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return infos
}

// openGPU opens a device, closed when the test ends.
func openGPU(t testing.TB, info hasher.DeviceInfo) *device {
	t.Helper()
	dev, err := New(hasher.GPUOptions{}).Open(info)
	if err != nil {
		t.Fatalf("Open(%s): %v", info.ID(), err)
	}
	d := dev.(*device)
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

// forEachGPU runs f on every CUDA device, one subtest each.
func forEachGPU(t *testing.T, f func(t *testing.T, d *device)) {
	t.Helper()
	for _, info := range gpuInfos(t) {
		t.Run(info.ID(), func(t *testing.T) { f(t, openGPU(t, info)) })
	}
}

// randomStart returns a start from which count nonces fit below 2^32.
func randomStart(rng *rand.Rand, count uint32) uint32 {
	return uint32(rng.Uint64N(1<<32 - uint64(count) + 1))
}

func newRand(t testing.TB) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0x63756461))
}

func sameHits(t testing.TB, what string, got, want []uint32) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	var missing, extra []uint32
	for _, n := range want {
		if _, ok := slices.BinarySearch(got, n); !ok {
			missing = append(missing, n)
		}
	}
	for _, n := range got {
		if _, ok := slices.BinarySearch(want, n); !ok {
			extra = append(extra, n)
		}
	}
	t.Errorf("%s: GPU found %d hits, CPU %d; missing %v, extra %v (duplicates if both empty)",
		what, len(got), len(want), head(missing), head(extra))
}

func head(s []uint32) []uint32 { return s[:min(len(s), 10)] }

func TestListWithDriver(t *testing.T) {
	infos := gpuInfos(t)
	capability := regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	for i, info := range infos {
		t.Logf("%s: %+v", info.ID(), info)
		if info.Backend != "cuda" || info.Index != i || info.Type != "GPU" || info.Name == "" ||
			info.ComputeUnits <= 0 || info.MemoryBytes == 0 || !capability.MatchString(info.Capability) {
			t.Errorf("device %d: implausible %+v", i, info)
		}
	}
	for _, info := range []hasher.DeviceInfo{
		{Backend: "cuda", Index: len(infos)},
		{Backend: "cuda", Index: -1},
		{Backend: "opencl", Index: 0},
	} {
		if dev, err := New(hasher.GPUOptions{}).Open(info); err == nil || dev != nil {
			t.Errorf("Open(%+v) = %v, %v; want an error", info, dev, err)
		}
	}
}

// Real Bitcoin headers at their real targets, nonce zeroed: searching 2^20
// nonces around the real one finds exactly it (checked on the CPU: no other
// nonce in these ranges meets the target).
func TestMainnetHeaders(t *testing.T) {
	headers := hashertest.MainnetVectors(t)
	forEachGPU(t, func(t *testing.T, d *device) {
		for _, h := range headers {
			const span = 1 << 20
			start := uint32(min(max(uint64(h.Nonce), span/2)-span/2, 1<<32-span))
			if got := hashertest.Hits(t, d, &h.Work, start, span); !slices.Equal(got, []uint32{h.Nonce}) {
				t.Errorf("height %d: nonces [%d, %d+2^20): hits %v, want [%d]", h.Height, start, start, got, h.Nonce)
			}
		}
	})
}

// Random headers and easy targets (one hash in 2^8 to 2^12 meets them) over
// ranges of about a million nonces at random starts, ranges ending exactly
// at 2^32 and odd small ranges: the GPU's hits are exactly the CPU's.
func TestMatchesCPU(t *testing.T) {
	forEachGPU(t, func(t *testing.T, d *device) {
		rng := newRand(t)
		type span struct{ start, count uint32 }
		cases := []span{
			{0, 1 << 20},
			{1<<32 - 1<<20, 1 << 20},   // ends exactly at 2^32
			{1<<32 - 1000003, 1000003}, // the same, count not a multiple of 8
			{1<<32 - 1, 1},             // the last nonce
			{rng.Uint32N(1 << 31), 0},  // nothing
		}
		for range 6 {
			count := 1<<20 - 2048 + rng.Uint32N(4096)
			cases = append(cases, span{randomStart(rng, count), count})
		}
		for _, count := range []uint32{1, 7, 8, 9, 2047, 2048, 2049, 65537} {
			cases = append(cases, span{randomStart(rng, count), count})
		}
		hits := 0
		for _, c := range cases {
			k := 8 + rng.IntN(5)
			w := hashertest.EasyWork(rng, k)
			want := hashertest.CPUHits(t, &w, c.start, c.count)
			got := hashertest.Hits(t, d, &w, c.start, c.count)
			sameHits(t, fmt.Sprintf("1 in 2^%d, nonces [%d, %d+%d)", k, c.start, c.start, c.count), got, want)
			hits += len(want)
		}
		if hits < 1000 {
			t.Errorf("only %d hits in all: the cases are too hard to test much", hits)
		}
	})
}

// Regtest's target, which half of all nonces meet: 2^20 nonces in at most
// two launches, exactly the CPU's hits.
func TestEasyTarget(t *testing.T) {
	forEachGPU(t, func(t *testing.T, d *device) {
		s, _ := d.pool.Take()
		defer d.pool.Put(s)
		hashertest.CheckEasyTarget(t, s.launch, s.hits)
	})
}

// A hit at the last nonce of the space is found.
func TestHitAtLastNonce(t *testing.T) {
	forEachGPU(t, func(t *testing.T, d *device) {
		w := hashertest.LastNonceWork(newRand(t))
		got := hashertest.Hits(t, d, &w, 1<<32-4096, 4096)
		if !slices.Contains(got, 1<<32-1) {
			t.Errorf("hits %v miss nonce 2^32-1, whose hash is the target", got)
		}
	})
}

// Searches from several goroutines at once: each runs on whatever thread
// the runtime gives it, so each launch must make the context current; two
// run on the two slots' streams at once, the others wait for a slot.
func TestConcurrentSearches(t *testing.T) {
	forEachGPU(t, func(t *testing.T, d *device) {
		rng := newRand(t)
		type job struct {
			w            hasher.Work
			start, count uint32
			want         []uint32
		}
		jobs := make([]job, 8)
		for i := range jobs {
			j := &jobs[i]
			j.w = hashertest.EasyWork(rng, 10)
			j.count = 1 << 18
			j.start = randomStart(rng, j.count)
			j.want = hashertest.CPUHits(t, &j.w, j.start, j.count)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for r := range 3 {
					j := &jobs[(g+r)%len(jobs)]
					hits, err := d.Search(&j.w, j.start, j.count, nil)
					if err != nil {
						t.Errorf("goroutine %d: %v", g, err)
						return
					}
					slices.Sort(hits)
					if !slices.Equal(hits, j.want) {
						t.Errorf("goroutine %d, nonces [%d, %d+%d): %d hits, want %d", g, j.start, j.start, j.count, len(hits), len(j.want))
					}
				}
			})
		}
		wg.Wait()
	})
}

// A closed device refuses to search; closing again does nothing.
func TestClose(t *testing.T) {
	info := gpuInfos(t)[0]
	dev, err := New(hasher.GPUOptions{Intensity: 20}).Open(info)
	if err != nil {
		t.Fatal(err)
	}
	if n, took := dev.Batch(); n != 1<<20 || took != 0 {
		t.Errorf("New(20): Batch() = %d, %v; want 2^20, 0", n, took)
	}
	// Open adds the PTX target it loaded to the listed description.
	if dev.Info().Program == "" {
		t.Errorf("Info().Program is empty: want the PTX target loaded")
	}
	info.Program = dev.Info().Program
	if dev.Lanes() != 2 || !reflect.DeepEqual(dev.Info(), info) {
		t.Errorf("Lanes() = %d, Info() = %+v", dev.Lanes(), dev.Info())
	}
	d := dev.(*device)
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	w := hashertest.EasyWork(rand.New(rand.NewPCG(1, 2)), 8)
	if _, err := d.Search(&w, 0, 1<<16, nil); err == nil {
		t.Error("Search after Close succeeded")
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// BenchmarkCUDA is the first device's speed on ranges of 2^30 nonces at
// the Bitcoin genesis block's target, in hashes per second.
func BenchmarkCUDA(b *testing.B) {
	info := gpuInfos(b)[0]
	d := openGPU(b, info)
	w := hashertest.GenesisWork(b)
	b.Logf("%s: %s, %d SMs, compute %s", info.ID(), info.Name, info.ComputeUnits, info.Capability)
	const span = 1 << 30
	var hits []uint32
	var hashes uint64
	var err error
	for i := 0; b.Loop(); i++ {
		if hits, err = d.Search(&w, uint32(i%4)*span, span, hits[:0]); err != nil {
			b.Fatal(err)
		}
		hashes += span
	}
	b.ReportMetric(float64(hashes)/b.Elapsed().Seconds(), "H/s")
}
