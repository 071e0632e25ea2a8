package opencl

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/hasher/hashertest"
	"github.com/hashforge/hashforge/internal/testenv"
)

// The tests share one device: building the kernel takes PoCL seconds.
var (
	sharedOnce sync.Once
	sharedDev  *device
	sharedSkip string // why there is no device: List's error
	sharedErr  error  // Open failed although List found a device
	testCache  string // XDG_CACHE_HOME of the test binary
)

func TestMain(m *testing.M) {
	// Keep the program cache (ours and PoCL's own) out of the user's.
	dir, err := os.MkdirTemp("", "hashforge-opencl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testCache = dir
	os.Setenv("XDG_CACHE_HOME", dir)
	os.Setenv("POCL_CACHE_DIR", filepath.Join(dir, "pocl"))
	code := m.Run()
	if sharedDev != nil {
		if err := sharedDev.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// sharedDevice returns the shared device: the one $HASHFORGE_TEST_OPENCL_DEVICE
// names (an ID such as opencl1), else the first GPU listed, else the first
// device: on a GPU machine the tests check the GPU, beside which PoCL may
// be installed. Without an OpenCL platform the test is skipped, with
// List's error as the reason.
func sharedDevice(t testing.TB) *device {
	t.Helper()
	sharedOnce.Do(func() {
		infos, err := New(hasher.GPUOptions{}).List()
		if err != nil {
			sharedSkip = err.Error()
			return
		}
		info, err := testDevice(infos, os.Getenv("HASHFORGE_TEST_OPENCL_DEVICE"))
		if err != nil {
			sharedErr = err
			return
		}
		t0 := time.Now()
		sharedDev, sharedErr = New(hasher.GPUOptions{}).open(info)
		if sharedErr == nil {
			t.Logf("opened %s: %s (%s, %s) in %v", info.ID(), info.Name, info.Platform, info.Type, time.Since(t0).Round(time.Millisecond))
		}
	})
	if sharedSkip != "" {
		testenv.Missing(t, "opencl", sharedSkip)
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedDev
}

// testDevice picks the tests' device from infos: the one id names, else
// the first GPU, else the first.
func testDevice(infos []hasher.DeviceInfo, id string) (hasher.DeviceInfo, error) {
	for _, info := range infos {
		if id != "" && info.ID() == id || id == "" && info.Type == "GPU" {
			return info, nil
		}
	}
	if id != "" {
		return hasher.DeviceInfo{}, fmt.Errorf("HASHFORGE_TEST_OPENCL_DEVICE=%s: no such device", id)
	}
	return infos[0], nil
}

func TestList(t *testing.T) {
	infos, err := New(hasher.GPUOptions{}).List()
	if err != nil {
		if !strings.HasPrefix(err.Error(), "OpenCL: ") {
			t.Errorf("List error %q does not start with \"OpenCL: \"", err)
		}
		testenv.Missing(t, "opencl", err.Error())
	}
	for i, info := range infos {
		t.Logf("%s: %+v", info.ID(), info)
		if info.Backend != "opencl" || info.Index != i || info.Name == "" || info.Platform == "" {
			t.Errorf("device %d: %+v", i, info)
		}
		if !slices.Contains([]string{"GPU", "CPU", "accelerator", "custom"}, info.Type) {
			t.Errorf("device %d: type %q", i, info.Type)
		}
		if info.ComputeUnits <= 0 || info.MemoryBytes == 0 {
			t.Errorf("device %d: %d compute units, %d bytes of memory", i, info.ComputeUnits, info.MemoryBytes)
		}
	}
}

func TestNoLoader(t *testing.T) {
	if err := load("libOpenCL-hashforge-test-missing.so.1"); !errors.Is(err, errNoLoader) {
		t.Errorf("load of a missing library: %v, want %v", err, errNoLoader)
	}
}

// TestNoPlatform runs the test binary again with the ICD loader pointed at
// an empty vendor directory (ocl-icd's OCL_ICD_VENDORS). Where the loader
// finds platforms some other way, they cannot be hidden: the test says so
// and skips. It does on the H200 machine of bench/RESULTS.md, whose loader
// (the CUDA toolkit's first in the cache) still listed NVIDIA's platform.
func TestNoPlatform(t *testing.T) {
	if os.Getenv("HASHFORGE_TEST_NO_PLATFORM") == "1" {
		infos, err := New(hasher.GPUOptions{}).List()
		if err == nil {
			t.Skipf("%s: this ICD loader lists platforms outside OCL_ICD_VENDORS: %+v", loaderStillLists, infos)
		}
		if !errors.Is(err, errNoPlatform) {
			t.Fatalf("List: %v, want %v", err, errNoPlatform)
		}
		return
	}
	if _, err := New(hasher.GPUOptions{}).List(); err != nil {
		testenv.Missing(t, "opencl", err.Error()) // needs the loader, and a platform to hide
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestNoPlatform$", "-test.v")
	cmd.Env = append(os.Environ(), "HASHFORGE_TEST_NO_PLATFORM=1", "OCL_ICD_VENDORS="+t.TempDir(), "OPENCL_VENDOR_PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	switch {
	case err == nil && strings.Contains(string(out), loaderStillLists):
		t.Skipf("with no ICD:\n%s", out)
	case err != nil || !strings.Contains(string(out), "--- PASS: TestNoPlatform"):
		t.Errorf("with no ICD: %v\n%s", err, out)
	}
}

// loaderStillLists marks the child's skip in TestNoPlatform.
const loaderStillLists = "loader still lists platforms"

// A platform that fails hides nothing: the loader lists a broken platform
// first (a handle no ICD gave, whose every query fails), and the real
// platform's devices are listed as before.
func TestBrokenPlatformSkipped(t *testing.T) {
	want, err := New(hasher.GPUOptions{}).List()
	if err != nil {
		testenv.Missing(t, "opencl", err.Error())
	}
	const broken = ^uintptr(0) - 1
	ids, info := clGetPlatformIDs, clGetPlatformInfo
	t.Cleanup(func() { clGetPlatformIDs, clGetPlatformInfo = ids, info })
	clGetPlatformIDs = func(num uint32, platforms *uintptr, numRet *uint32) int32 {
		var n uint32
		if platforms == nil {
			code := ids(0, nil, &n)
			*numRet = n + 1
			return code
		}
		list := unsafe.Slice(platforms, num)
		list[0] = broken
		code := ids(num-1, &list[1], &n)
		*numRet = n + 1
		return code
	}
	clGetPlatformInfo = func(platform uintptr, param uint32, size uintptr, value unsafe.Pointer, sizeRet *uintptr) int32 {
		if platform == broken {
			return -32 // CL_INVALID_PLATFORM
		}
		return info(platform, param, size, value, sizeRet)
	}
	got, err := New(hasher.GPUOptions{}).List()
	if err != nil {
		t.Fatalf("List with a broken platform: %v", err)
	}
	if len(got) != len(want) || got[0].Name != want[0].Name || got[0].Index != 0 {
		t.Errorf("List with a broken platform: %+v, want %+v", got, want)
	}
}

func TestOpenUnknownDevice(t *testing.T) {
	sharedDevice(t)
	if _, err := New(hasher.GPUOptions{}).Open(hasher.DeviceInfo{Backend: "opencl", Index: 1 << 20}); err == nil {
		t.Fatal("Open of a device that does not exist succeeded")
	}
}

// TestMainnetNonces searches 2^16 nonces around each real block's nonce,
// with the target of its bits: exactly that nonce comes back.
func TestMainnetNonces(t *testing.T) {
	d := sharedDevice(t)
	headers := hashertest.MainnetVectors(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const count = 1 << 16
	for _, h := range headers {
		start := h.Nonce - min(h.Nonce, rng.Uint32N(count))
		start = min(start, 1<<32-count)
		if got := hashertest.Hits(t, d, &h.Work, start, count); !slices.Equal(got, []uint32{h.Nonce}) {
			t.Errorf("height %d: nonces [%d, %d): hits %v, want [%d]", h.Height, start, uint64(start)+count, got, h.Nonce)
		}
	}
}

// TestMatchesCPU compares the device's hits with the CPU backend's on random
// headers and easy targets, the last range ending at 2^32.
func TestMatchesCPU(t *testing.T) {
	d := sharedDevice(t)
	rng := rand.New(rand.NewPCG(3, 4))
	const ranges = 24
	total := 0
	for i := range ranges {
		w := hashertest.RandomWork(rng, 7+rng.IntN(5))
		count := 40000 + rng.Uint32N(20000)
		start := uint32(rng.Uint64N(1<<32 - uint64(count) + 1))
		if i == ranges-1 {
			start = uint32(1<<32 - uint64(count))
		}
		want := hashertest.CPUHits(t, &w, start, count)
		got := hashertest.Hits(t, d, &w, start, count)
		if !slices.Equal(got, want) {
			t.Errorf("range %d, nonces [%d, %d): device found %d hits, CPU %d\ndevice %v\nCPU    %v",
				i, start, uint64(start)+uint64(count), len(got), len(want), got, want)
		}
		total += len(want)
	}
	if total == 0 {
		t.Error("no hits in any range: the targets are too hard to test anything")
	}
}

// Regtest's target, which half of all nonces meet: the kernel checks the
// whole target, and launches are sized to the hits expected, so 2^20 nonces
// take at most two launches and give exactly the CPU's hits.
func TestEasyTarget(t *testing.T) {
	d := sharedDevice(t)
	s, _ := d.pool.Take()
	defer d.pool.Put(s)
	hashertest.CheckEasyTarget(t, s.launch, s.hits)
}

// A hit at the last nonce of the space is found.
func TestHitAtLastNonce(t *testing.T) {
	d := sharedDevice(t)
	w := hashertest.LastNonceWork(rand.New(rand.NewPCG(15, 16)))
	if got := hashertest.Hits(t, d, &w, 1<<32-4096, 4096); !slices.Contains(got, 1<<32-1) {
		t.Errorf("hits %v miss nonce 2^32-1, whose hash is the target", got)
	}
}

func TestSmallRanges(t *testing.T) {
	d := sharedDevice(t)
	rng := rand.New(rand.NewPCG(7, 8))
	w := hashertest.RandomWork(rng, 2)
	for _, r := range []struct{ start, count uint32 }{
		{0, 0}, {0, 1}, {12345, 7}, {1<<32 - 1, 1}, {1<<32 - 9, 9}, {99, 257},
	} {
		want := hashertest.CPUHits(t, &w, r.start, r.count)
		if got := hashertest.Hits(t, d, &w, r.start, r.count); !slices.Equal(got, want) {
			t.Errorf("nonces [%d, +%d): device %v, CPU %v", r.start, r.count, got, want)
		}
	}
}

// TestProgramCache opens a device twice in a fresh cache directory: the first
// Open builds from source and stores the binary, the second loads it. A
// damaged cache file is rebuilt.
func TestProgramCache(t *testing.T) {
	shared := sharedDevice(t)
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", home)
	b := New(hasher.GPUOptions{})

	search := func(d *device) {
		t.Helper()
		w := hashertest.GenesisWork(t)
		if got := hashertest.Hits(t, d, &w, hashertest.GenesisNonce-1000, 2000); !slices.Equal(got, []uint32{hashertest.GenesisNonce}) {
			t.Errorf("genesis: hits %v", got)
		}
	}

	first, err := b.open(shared.info)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if first.fromCache {
		t.Error("first Open in an empty cache directory claims the cached binary")
	}
	want := filepath.Join(home, "hashforge", "opencl")
	if filepath.Dir(first.cachePath) != want || !strings.HasSuffix(first.cachePath, ".bin") {
		t.Fatalf("cache file %q, want one in %s", first.cachePath, want)
	}
	bin, err := os.ReadFile(first.cachePath)
	if err != nil || len(bin) == 0 {
		t.Fatalf("cache file after the first Open: %d bytes, %v", len(bin), err)
	}

	second, err := b.open(shared.info)
	if err != nil {
		t.Fatal(err)
	}
	if !second.fromCache || second.cachePath != first.cachePath {
		t.Errorf("second Open: fromCache %v, path %q; want the binary at %q", second.fromCache, second.cachePath, first.cachePath)
	}
	search(second)
	if err := second.Close(); err != nil {
		t.Error(err)
	}
	if err := second.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := second.Search(&hasher.Work{}, 0, 100, nil); err == nil {
		t.Error("Search on a closed device succeeded")
	}

	if err := os.WriteFile(first.cachePath, []byte("not a program binary"), 0o644); err != nil {
		t.Fatal(err)
	}
	third, err := b.open(shared.info)
	if err != nil {
		t.Fatalf("Open with a damaged cache file: %v", err)
	}
	defer third.Close()
	if third.fromCache {
		t.Error("a damaged cache file was used")
	}
	search(third)
	// The rebuilt binary need not equal the first byte for byte: PoCL puts
	// the kernels it compiled for launches since into it. It must load.
	if again, err := os.ReadFile(first.cachePath); err != nil || len(again) == 0 || string(again) == "not a program binary" {
		t.Errorf("the damaged cache file was not rewritten (%d bytes, %v)", len(again), err)
	}
	fourth, err := b.open(shared.info)
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	if !fourth.fromCache {
		t.Error("the rewritten cache file was not used")
	}
	entries, _ := os.ReadDir(want)
	if len(entries) != 1 {
		t.Errorf("cache directory holds %d files, want 1 (no temporary files left)", len(entries))
	}
}

// TestScheduler runs the device beside the CPU under the scheduler, which
// sizes its launches: the genesis nonce comes back once, from some device,
// and the OpenCL device hashed part of the range without errors.
func TestScheduler(t *testing.T) {
	d := sharedDevice(t)
	cpus, err := hasher.OpenAll(cpu.New(1))
	if err != nil {
		t.Fatal(err)
	}
	const nonce = hashertest.GenesisNonce
	s := hasher.NewScheduler([]hasher.Device{d, cpus[0]}, slog.New(slog.DiscardHandler))
	hits, err := hashertest.SearchRange(t, s, hashertest.GenesisWork(t), nonce-(1<<21), 1<<22, 40*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hits, []uint32{nonce}) {
		t.Errorf("hits %v, want [%d]", hits, nonce)
	}
	for _, st := range s.Stats() {
		t.Logf("%s: %d hashes", st.Info.ID(), st.Hashes)
		if st.Info.Backend == "opencl" && (st.Hashes == 0 || st.Errors != 0 || st.Stopped) {
			t.Errorf("%s: %+v", st.Info.ID(), st)
		}
	}
}

func TestBuildErrorHasLog(t *testing.T) {
	d := sharedDevice(t)
	_, err := buildSource(d.context, d.device, "__kernel void broken(__global uint *p) { p[0] = undeclared_thing; }", "")
	if err == nil {
		t.Fatal("a broken kernel built")
	}
	var clErr *Error
	if !errors.As(err, &clErr) || clErr.Name != "CL_BUILD_PROGRAM_FAILURE" {
		t.Errorf("error %v is not CL_BUILD_PROGRAM_FAILURE", err)
	}
	if !strings.Contains(err.Error(), "undeclared_thing") {
		t.Errorf("error does not carry the build log: %v", err)
	}
}

func TestError(t *testing.T) {
	err := check("clBuildProgram", -11)
	if got, want := err.Error(), "clBuildProgram: CL_BUILD_PROGRAM_FAILURE (-11)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := errorName(-12345); got != "CL_ERROR" {
		t.Errorf("errorName(-12345) = %q", got)
	}
}

func TestBatch(t *testing.T) {
	for _, tt := range []struct {
		intensity int
		typ       string
		nonces    uint64
		took      time.Duration
	}{
		{0, "GPU", 1 << 24, 100 * time.Millisecond},
		{0, "CPU", 1 << 20, 100 * time.Millisecond},
		{22, "GPU", 1 << 22, 0},
		{40, "CPU", 1 << hasher.MaxIntensity, 0},
		{-3, "CPU", 1 << 20, 100 * time.Millisecond},
	} {
		d := &device{info: hasher.DeviceInfo{Type: tt.typ}, intensity: New(hasher.GPUOptions{Intensity: tt.intensity}).opts.Intensity}
		if n, took := d.Batch(); n != tt.nonces || took != tt.took {
			t.Errorf("intensity %d, %s: Batch() = %d, %v; want %d, %v", tt.intensity, tt.typ, n, took, tt.nonces, tt.took)
		}
	}
	if d := (&device{}); d.Lanes() != 2 {
		t.Errorf("Lanes() = %d, want 2: one per slot", d.Lanes())
	}
}

// Two Searches run at once, each on its own queue: while one slot is busy
// (here: held by the test, as a launch in flight holds it) a Search runs on
// the other, so the device has the next launch while the host reads the
// last one's hits. Two Searches at once each find exactly the CPU's hits.
func TestTwoSlots(t *testing.T) {
	d := sharedDevice(t)
	rng := rand.New(rand.NewPCG(17, 18))
	held, _ := d.pool.Take()
	w := hashertest.RandomWork(rng, 10)
	want := hashertest.CPUHits(t, &w, 1000, 1<<18)
	done := make(chan []uint32, 1)
	go func() { done <- hashertest.Hits(t, d, &w, 1000, 1<<18) }()
	select {
	case got := <-done:
		if !slices.Equal(got, want) {
			t.Errorf("search beside a busy slot: %d hits, CPU %d", len(got), len(want))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a Search waited for the busy slot: the device has one")
	}
	d.pool.Put(held)

	var wg sync.WaitGroup
	for i := range 2 {
		w := hashertest.RandomWork(rng, 10)
		start := rng.Uint32N(1<<32 - 1<<20)
		want := hashertest.CPUHits(t, &w, start, 1<<20)
		wg.Go(func() {
			if got := hashertest.Hits(t, d, &w, start, 1<<20); !slices.Equal(got, want) {
				t.Errorf("concurrent search %d: %d hits, CPU %d", i, len(got), len(want))
			}
		})
	}
	wg.Wait()
}

func BenchmarkOpenCL(b *testing.B) {
	d := sharedDevice(b)
	rng := rand.New(rand.NewPCG(9, 10))
	w := hashertest.RandomWork(rng, 0)
	w.Target = [32]byte{} // nothing meets it: the benchmark measures hashing only
	n, _ := d.Batch()
	count := uint32(n)
	// PoCL compiles the kernel again for the first launch of a large grid;
	// b.Loop starts the clock after this one.
	if _, err := d.Search(&w, 0, count, nil); err != nil {
		b.Fatal(err)
	}
	start := count
	hashes := 0.0
	for b.Loop() {
		if _, err := d.Search(&w, start, count, nil); err != nil {
			b.Fatal(err)
		}
		start += count
		hashes += float64(count)
	}
	b.ReportMetric(hashes/b.Elapsed().Seconds(), "H/s")
}

// Another launch shape (work-groups of 64, 3 nonces a work-item) finds
// exactly the CPU's hits, odd range lengths and the end of the space
// included.
func TestShape(t *testing.T) {
	shared := sharedDevice(t)
	d, err := New(hasher.GPUOptions{Shape: hasher.Shape{Threads: 64, Nonces: 3}}).open(shared.info)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.local != 64 || d.nonces != 3 {
		t.Fatalf("work-group %d, nonces %d: want 64 and 3", d.local, d.nonces)
	}
	rng := rand.New(rand.NewPCG(19, 20))
	w := hashertest.RandomWork(rng, 6)
	for _, r := range []struct{ start, count uint32 }{{0, 1}, {5, 1000}, {rng.Uint32N(1 << 31), 100_003}, {1<<32 - 997, 997}} {
		want := hashertest.CPUHits(t, &w, r.start, r.count)
		if got := hashertest.Hits(t, d, &w, r.start, r.count); !slices.Equal(got, want) {
			t.Errorf("nonces [%d, +%d): device %d hits, CPU %d", r.start, r.count, len(got), len(want))
		}
	}
}
