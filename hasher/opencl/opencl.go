// Package opencl is the OpenCL hashing backend: it runs the SHA-256d search
// kernel of package kernels on every OpenCL device (GPUs, and CPUs through
// PoCL). The OpenCL library is loaded at run time (load_purego.go), so the
// package builds without cgo and a binary on a host without OpenCL starts
// fine; List then says what is missing.
package opencl

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/kernels"
)

// Backend is the OpenCL backend.
type Backend struct{ opts hasher.GPUOptions }

// New returns the OpenCL backend, launching as o says (intensity held within
// hasher.MinIntensity and hasher.MaxIntensity).
func New(o hasher.GPUOptions) *Backend {
	o.Intensity = hasher.LaunchIntensity(o.Intensity)
	return &Backend{opts: o}
}

// Name returns "opencl".
func (b *Backend) Name() string { return "opencl" }

// clDevice is one device as enumerated: its handles and description.
type clDevice struct {
	platform, device uintptr
	driver           string // CL_DRIVER_VERSION, part of the program cache key
	info             hasher.DeviceInfo
}

// List returns every device of every platform, numbered across platforms in
// the order the ICD loader gives them.
func (b *Backend) List() ([]hasher.DeviceInfo, error) {
	devs, err := enumerate()
	if err != nil {
		return nil, err
	}
	infos := make([]hasher.DeviceInfo, len(devs))
	for i, d := range devs {
		infos[i] = d.info
	}
	return infos, nil
}

func enumerate() ([]clDevice, error) {
	if err := driver(); err != nil {
		return nil, err
	}
	var n uint32
	switch code := clGetPlatformIDs(0, nil, &n); {
	case code == clPlatformNotFoundKHR || code == clSuccess && n == 0:
		return nil, errNoPlatform
	case code != clSuccess:
		return nil, fmt.Errorf("OpenCL: listing platforms: %w", check("clGetPlatformIDs", code))
	}
	platforms := make([]uintptr, n)
	if err := check("clGetPlatformIDs", clGetPlatformIDs(n, &platforms[0], &n)); err != nil {
		return nil, fmt.Errorf("OpenCL: listing platforms: %w", err)
	}
	platforms = platforms[:min(int(n), len(platforms))]

	// A platform that fails (a broken ICD, a driver that is not loaded) is
	// skipped: the others' devices still mine. Why it was skipped is in the
	// error when no platform has a device, and logged when some do.
	var devs []clDevice
	var skipped []error
	for i, p := range platforms {
		found, err := platformDevices(p)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("platform %d: %w", i, err))
			continue
		}
		for _, d := range found {
			d.info.Index = len(devs)
			devs = append(devs, d)
		}
	}
	if len(devs) == 0 {
		return nil, fmt.Errorf("OpenCL: no device found on %d platform(s)%s", len(platforms), reasons(skipped))
	}
	for _, err := range skipped {
		slog.Warn("OpenCL: platform skipped", "err", err)
	}
	return devs, nil
}

// reasons formats why platforms were skipped, for an error.
func reasons(skipped []error) string {
	if len(skipped) == 0 {
		return ""
	}
	return ": " + errors.Join(skipped...).Error()
}

// platformDevices lists and describes one platform's devices.
func platformDevices(p uintptr) ([]clDevice, error) {
	pname, err := infoString("clGetPlatformInfo", platformInfo(p, clPlatformName))
	if err != nil {
		return nil, fmt.Errorf("name: %w", err)
	}
	var m uint32
	code := clGetDeviceIDs(p, clDeviceTypeAll, 0, nil, &m)
	if code == clDeviceNotFound || code == clSuccess && m == 0 {
		return nil, nil
	}
	if err := check("clGetDeviceIDs", code); err != nil {
		return nil, fmt.Errorf("%s: listing devices: %w", pname, err)
	}
	ids := make([]uintptr, m)
	if err := check("clGetDeviceIDs", clGetDeviceIDs(p, clDeviceTypeAll, m, &ids[0], &m)); err != nil {
		return nil, fmt.Errorf("%s: listing devices: %w", pname, err)
	}
	var devs []clDevice
	for _, id := range ids[:min(int(m), len(ids))] {
		d, err := describe(p, id, pname)
		if err != nil {
			return nil, fmt.Errorf("%s: describing a device: %w", pname, err)
		}
		devs = append(devs, d)
	}
	return devs, nil
}

func describe(platform, device uintptr, platformName string) (clDevice, error) {
	d := clDevice{platform: platform, device: device,
		info: hasher.DeviceInfo{Backend: "opencl", Platform: platformName}}
	var err error
	if d.info.Name, err = infoString("clGetDeviceInfo", deviceInfo(device, clDeviceName)); err != nil {
		return d, err
	}
	if d.driver, err = infoString("clGetDeviceInfo", deviceInfo(device, clDriverVersion)); err != nil {
		return d, err
	}
	typ, err := infoUint("clGetDeviceInfo", deviceInfo(device, clDeviceType))
	if err != nil {
		return d, err
	}
	switch {
	case typ&clDeviceTypeGPU != 0:
		d.info.Type = "GPU"
	case typ&clDeviceTypeCPU != 0:
		d.info.Type = "CPU"
	case typ&clDeviceTypeAccelerator != 0:
		d.info.Type = "accelerator"
	default:
		d.info.Type = "custom"
	}
	cu, err := infoUint("clGetDeviceInfo", deviceInfo(device, clDeviceMaxComputeUnits))
	if err != nil {
		return d, err
	}
	d.info.ComputeUnits = int(cu)
	if d.info.MemoryBytes, err = infoUint("clGetDeviceInfo", deviceInfo(device, clDeviceGlobalMemSize)); err != nil {
		return d, err
	}
	return d, nil
}

// Open prepares a listed device: a context and queue on it, the search
// kernel built for it (or loaded from the program cache) and its buffers.
// The returned device also has Close, which releases them.
func (b *Backend) Open(info hasher.DeviceInfo) (hasher.Device, error) {
	return b.open(info)
}

func (b *Backend) open(info hasher.DeviceInfo) (*device, error) {
	devs, err := enumerate()
	if err != nil {
		return nil, err
	}
	if info.Index < 0 || info.Index >= len(devs) {
		return nil, fmt.Errorf("OpenCL: no device %s: %d found", info.ID(), len(devs))
	}
	cd := devs[info.Index]
	if info.Name != "" && info.Name != cd.info.Name {
		return nil, fmt.Errorf("OpenCL: device %s is now %q, not %q", info.ID(), cd.info.Name, info.Name)
	}
	d := &device{info: cd.info, intensity: b.opts.Intensity, threads: b.opts.Shape.Threads, nonces: kernels.NoncesPerThread}
	if b.opts.Shape.Nonces > 0 {
		d.nonces = uint32(b.opts.Shape.Nonces)
	}
	if err := d.init(cd); err != nil {
		d.Close()
		return nil, fmt.Errorf("OpenCL: opening %s (%s): %w", info.ID(), cd.info.Name, err)
	}
	return d, nil
}

// init creates what the device's launches use; on failure the caller
// releases whatever was created.
func (d *device) init(cd clDevice) error {
	var code int32
	dev := cd.device
	d.device = dev
	d.context = clCreateContext(nil, 1, &dev, 0, 0, &code)
	if err := check("clCreateContext", code); err != nil {
		return err
	}
	src := kernels.OpenCLSource()
	options := ""
	d.cachePath = cachePath(src, options, cd)
	if bin := readCache(d.cachePath); bin != nil {
		d.program = buildBinary(d.context, dev, bin, options)
		d.fromCache = d.program != 0
	}
	if d.program == 0 {
		var err error
		if d.program, err = buildSource(d.context, dev, src, options); err != nil {
			return err
		}
		if bin, err := programBinary(d.program); err == nil {
			writeCache(d.cachePath, bin)
		}
	}
	for range slots {
		s := &slot{device: d, hits: make([]uint32, kernels.ResultCap)}
		d.slots = append(d.slots, s) // released by Close, even half made
		if err := s.init(d.context, dev, d.program); err != nil {
			return err
		}
	}
	wgs, err := infoUint("clGetKernelWorkGroupInfo", kernelWorkGroupInfo(d.slots[0].kernel, dev, clKernelWorkGroupSize))
	if err != nil {
		return err
	}
	d.local = localSize(wgs, d.threads)
	d.pool = hasher.NewSlots(d.slots)
	return nil
}

// init creates a slot's queue, kernel and buffers.
func (s *slot) init(context, dev, program uintptr) error {
	var code int32
	s.queue = clCreateCommandQueue(context, dev, 0, &code)
	if err := check("clCreateCommandQueue", code); err != nil {
		return err
	}
	// A kernel's arguments are its own: each slot has one.
	s.kernel = clCreateKernel(program, cString(kernels.KernelName), &code)
	if err := check("clCreateKernel", code); err != nil {
		return err
	}
	s.job = clCreateBuffer(context, clMemReadOnly, kernels.JobWords*4, nil, &code)
	if err := check("clCreateBuffer", code); err != nil {
		return err
	}
	s.out = clCreateBuffer(context, clMemReadWrite, kernels.ResultWords*4, nil, &code)
	if err := check("clCreateBuffer", code); err != nil {
		return err
	}
	if err := check("clSetKernelArg", clSetKernelArg(s.kernel, 0, sizeofHandle, unsafe.Pointer(&s.job))); err != nil {
		return err
	}
	return check("clSetKernelArg", clSetKernelArg(s.kernel, 1, sizeofHandle, unsafe.Pointer(&s.out)))
}

// localSize picks the work-group size: the largest power of two up to
// maxLocalSize, and to want if it is set, that the kernel allows on the
// device.
func localSize(kernelMax uint64, want int) uintptr {
	limit := uintptr(maxLocalSize)
	if want > 0 {
		limit = min(limit, uintptr(want))
	}
	n := uintptr(1)
	for n*2 <= limit && uint64(n*2) <= kernelMax {
		n *= 2
	}
	return n
}

// buildSource compiles the kernel's source; a failed build's error carries
// the compiler's log.
func buildSource(context, device uintptr, src, options string) (uintptr, error) {
	var code int32
	text := cString(src)
	program := clCreateProgramWithSource(context, 1, &text, nil, &code)
	if err := check("clCreateProgramWithSource", code); err != nil {
		return 0, err
	}
	if err := check("clBuildProgram", clBuildProgram(program, 1, &device, cString(options), 0, 0)); err != nil {
		log, _ := infoString("clGetProgramBuildInfo", programBuildInfo(program, device, clProgramBuildLog))
		clReleaseProgram(program)
		if log == "" {
			return 0, fmt.Errorf("building the kernel: %w", err)
		}
		return 0, fmt.Errorf("building the kernel: %w; build log:\n%s", err, log)
	}
	return program, nil
}

// buildBinary loads a cached program binary, or returns 0 if the driver
// refuses it (a stale or damaged cache).
func buildBinary(context, device uintptr, bin []byte, options string) uintptr {
	var code, status int32
	size := uintptr(len(bin))
	ptr := &bin[0]
	program := clCreateProgramWithBinary(context, 1, &device, &size, &ptr, &status, &code)
	if code != clSuccess || status != clSuccess {
		if program != 0 {
			clReleaseProgram(program)
		}
		return 0
	}
	if clBuildProgram(program, 1, &device, cString(options), 0, 0) != clSuccess {
		clReleaseProgram(program)
		return 0
	}
	// Some drivers only find a bad binary when the kernel is created.
	var kernel uintptr
	if kernel = clCreateKernel(program, cString(kernels.KernelName), &code); code != clSuccess {
		clReleaseProgram(program)
		return 0
	}
	clReleaseKernel(kernel)
	return program
}

// programBinary returns the built program's binary for its one device.
func programBinary(program uintptr) ([]byte, error) {
	sizes, err := getInfo("clGetProgramInfo", programInfo(program, clProgramBinarySizes))
	if err != nil {
		return nil, err
	}
	if len(sizes) != int(sizeofHandle) {
		return nil, fmt.Errorf("clGetProgramInfo: %d bytes of binary sizes for one device", len(sizes))
	}
	size := *(*uintptr)(unsafe.Pointer(&sizes[0]))
	if size == 0 || size > maxInfoSize {
		return nil, fmt.Errorf("clGetProgramInfo: binary of %d bytes", size)
	}
	bin := make([]byte, size)
	ptr := &bin[0] // CL_PROGRAM_BINARIES fills the buffers an array of pointers names
	if err := check("clGetProgramInfo", clGetProgramInfo(program, clProgramBinaries, sizeofHandle, unsafe.Pointer(&ptr), nil)); err != nil {
		return nil, err
	}
	return bin, nil
}

// cachePath names the program binary for this source, build options and
// device: a hex SHA-256 in the user's cache directory, or "" when there is
// no cache directory.
func cachePath(src, options string, cd clDevice) string {
	dir, err := os.UserCacheDir()
	if err != nil || dir == "" {
		return ""
	}
	h := sha256.New()
	for _, part := range []string{src, options, cd.info.Platform, cd.info.Name, cd.driver} {
		fmt.Fprintf(h, "%d:%s\n", len(part), part)
	}
	return filepath.Join(dir, "hashforge", "opencl", hex.EncodeToString(h.Sum(nil))+".bin")
}

// readCache returns the cached binary, or nil.
func readCache(path string) []byte {
	if path == "" {
		return nil
	}
	bin, err := os.ReadFile(path)
	if err != nil || len(bin) == 0 {
		return nil
	}
	return bin
}

// writeCache stores a binary through a temporary file and a rename, so a
// reader never sees half a file. Failures are ignored: the next Open builds
// from source again.
func writeCache(path string, bin []byte) {
	if path == "" {
		return
	}
	dir := filepath.Dir(path)
	if os.MkdirAll(dir, 0o755) != nil {
		return
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return
	}
	_, err = f.Write(bin)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
}

// Batch sizes before tuning: a GPU starts large, a CPU device (PoCL) small.
const (
	startBatchGPU = 1 << 24
	startBatchCPU = 1 << 20
	batchTime     = 100 * time.Millisecond
)
