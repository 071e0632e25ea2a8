package cuda

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/kernels"
)

// Without libcuda.so.1 (machines without an NVIDIA driver, CI) the backend
// lists nothing, says why, and refuses to open anything.
func TestNoDriver(t *testing.T) {
	if err := driver(); !errors.Is(err, errNoDriver) {
		t.Skipf("libcuda.so.1 loads (driver: %v): the GPU tests run instead", err)
	}
	b := New(hasher.GPUOptions{})
	if b.Name() != "cuda" {
		t.Errorf("Name() = %q, want cuda", b.Name())
	}
	infos, err := b.List()
	if err == nil || err.Error() != "CUDA: no driver (libcuda.so.1 not found)" {
		t.Errorf("List() error = %v, want CUDA: no driver (libcuda.so.1 not found)", err)
	}
	if len(infos) != 0 {
		t.Errorf("List() = %v, want no devices", infos)
	}
	for _, info := range []hasher.DeviceInfo{
		{Backend: "cuda", Index: 0, Name: "NVIDIA H100 80GB HBM3", Type: "GPU"},
		{Backend: "cuda", Index: -1},
		{},
	} {
		dev, err := b.Open(info)
		if err == nil || dev != nil {
			t.Errorf("Open(%+v) = %v, %v; want an error and no device", info, dev, err)
		}
	}
	if _, err := hasher.ListAll(b); err == nil {
		t.Error("hasher.ListAll found CUDA devices without a driver")
	}
}

func TestNewIntensity(t *testing.T) {
	for _, tc := range []struct {
		intensity int
		nonces    uint64
		took      time.Duration
	}{
		{0, 1 << 26, 100 * time.Millisecond},
		{-3, 1 << 26, 100 * time.Millisecond},
		{1, 1 << 8, 0},
		{8, 1 << 8, 0},
		{24, 1 << 24, 0},
		{31, 1 << 31, 0},
		{32, 1 << 31, 0},
		{40, 1 << 31, 0},
	} {
		d := &device{intensity: New(hasher.GPUOptions{Intensity: tc.intensity}).opts.Intensity}
		nonces, took := d.Batch()
		if nonces != tc.nonces || took != tc.took {
			t.Errorf("New(%d): Batch() = %d, %v; want %d, %v", tc.intensity, nonces, took, tc.nonces, tc.took)
		}
		if d.Lanes() != 2 {
			t.Errorf("Lanes() = %d, want 2: one per slot", d.Lanes())
		}
	}
}

func TestGridFor(t *testing.T) {
	for _, shape := range []struct{ nonces, block uint32 }{{kernels.NoncesPerThread, blockSize}, {1, 32}, {3, 64}, {64, 256}} {
		per := shape.nonces * shape.block
		for _, tc := range []struct{ count, blocks uint32 }{
			{1, 1},
			{shape.nonces, 1},
			{per, 1},
			{per + 1, 2},
			{1 << 20, (1<<20 + per - 1) / per},
			{1<<32 - 1, uint32((1<<32 - 1 + uint64(per) - 1) / uint64(per))},
		} {
			blocks := gridFor(tc.count, shape.nonces, shape.block)
			if blocks != tc.blocks {
				t.Errorf("gridFor(%d, %d, %d) = %d, want %d", tc.count, shape.nonces, shape.block, blocks, tc.blocks)
			}
			// Every nonce has a thread, and no block is all idle threads.
			b := uint64(blocks)
			if b*uint64(per) < uint64(tc.count) || (b-1)*uint64(per) >= uint64(tc.count) {
				t.Errorf("gridFor(%d, %d, %d) = %d blocks: wrong cover", tc.count, shape.nonces, shape.block, blocks)
			}
		}
	}
}

func TestErrorText(t *testing.T) {
	if check("cuInit", cudaSuccess) != nil {
		t.Fatal("check(CUDA_SUCCESS) is an error")
	}
	err := check("cuInit", 100)
	var e *Error
	if !errors.As(err, &e) || e.Code != 100 || e.Op != "cuInit" {
		t.Fatalf("check(100) = %#v", err)
	}
	// Without a driver the code has no name from cuGetErrorName and no
	// text from cuGetErrorString.
	driver()
	want := "cuInit: CUresult(100)"
	if cuGetErrorName != nil {
		want = "cuInit: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)"
	}
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
	e.Log = "ptxas fatal"
	if got := e.Error(); got != want+": ptxas fatal" {
		t.Errorf("Error() with log = %q", got)
	}
}

func TestGoString(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "abc", "abc\x00def": "abc", "\x00": ""} {
		if got := goString([]byte(in)); got != want {
			t.Errorf("goString(%q) = %q, want %q", in, got, want)
		}
	}
}

// The PTX is built for the block size launches use (__launch_bounds__).
func TestPTXLaunchBounds(t *testing.T) {
	if want := fmt.Sprintf(".maxntid %d, 1, 1", blockSize); !strings.Contains(kernels.PTX, want) {
		t.Errorf("PTX lacks %q: sha256d.cu's HF_BLOCK_SIZE and blockSize differ", want)
	}
}

// Without the NVIDIA driver there is no NVML either: health is not
// available, and says so; nothing fails.
func TestNoNVML(t *testing.T) {
	if driverPresent() {
		t.Skip("the NVIDIA driver is here: NVML may be too")
	}
	if err := nvml(); !errors.Is(err, errNoNVML) {
		t.Errorf("nvml() = %v, want %v", err, errNoNVML)
	}
	if _, err := New(hasher.GPUOptions{}).Health(hasher.DeviceInfo{Backend: "cuda"}); err == nil {
		t.Error("Health without a driver succeeded")
	}
}

// A device tries the newest PTX its compute capability allows first.
func TestProgramsFor(t *testing.T) {
	arches := func(c string) (out []string) {
		for _, p := range programsFor(c) {
			out = append(out, p.Arch)
		}
		return out
	}
	for c, want := range map[string][]string{
		"9.0": {"sm_80", "sm_50"}, "8.6": {"sm_80", "sm_50"}, "7.5": {"sm_50"}, "5.0": {"sm_50"}, "": {"sm_80", "sm_50"},
	} {
		if got := arches(c); !slices.Equal(got, want) {
			t.Errorf("capability %q: %v, want %v", c, got, want)
		}
	}
	for _, p := range kernels.Programs {
		if !strings.Contains(p.PTX, ".target "+p.Arch) || !strings.Contains(p.PTX, ".entry "+kernels.KernelName) {
			t.Errorf("%s: the PTX lacks its target or the entry %s", p.Arch, kernels.KernelName)
		}
	}
}

func TestSticky(t *testing.T) {
	for code, want := range map[result]bool{700: true, 719: true, 702: true, 701: false, 2: false} {
		if got := sticky(fmt.Errorf("launch: %w", check("cuLaunchKernel", code))); got != want {
			t.Errorf("sticky(%d) = %v, want %v", code, got, want)
		}
	}
	if sticky(errors.New("not CUDA's")) {
		t.Error("a non-CUDA error is sticky")
	}
}
