// Package cuda is the hasher backend for NVIDIA GPUs. It drives the CUDA
// driver API in libcuda.so.1, loaded at run time, so it builds without the
// CUDA toolkit or cgo and, on a machine without the driver, lists no devices
// and says why. The kernel is the PTX in package kernels, which the driver
// compiles for each device when it is opened.
//
// A CUDA context is current per OS thread and Go moves goroutines between
// threads, so every operation locks its goroutine to its thread and makes
// the device's context current first.
package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/kernels"
)

const (
	// blockSize is the threads per block of a launch unless a Shape says
	// fewer; the kernel's launch bound (sha256d.cu's HF_BLOCK_SIZE).
	blockSize = 256
	// autoBatch and autoBatchTime are the first launch size and the time the
	// scheduler tunes launches toward when no intensity is set.
	autoBatch     = 1 << 26
	autoBatchTime = 100 * time.Millisecond
)

// Backend is the CUDA backend.
type Backend struct{ opts hasher.GPUOptions }

// New returns the CUDA backend, launching as o says (intensity held within
// hasher.MinIntensity and hasher.MaxIntensity).
func New(o hasher.GPUOptions) *Backend {
	o.Intensity = hasher.LaunchIntensity(o.Intensity)
	return &Backend{opts: o}
}

// Name returns "cuda".
func (b *Backend) Name() string { return "cuda" }

// List describes every CUDA device. With none, the error says why: no
// driver, cuInit failing (CUDA_ERROR_NO_DEVICE), or no device found.
func (b *Backend) List() ([]hasher.DeviceInfo, error) {
	if err := driver(); err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n, err := deviceCount()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errors.New("CUDA: no device found")
	}
	infos := make([]hasher.DeviceInfo, 0, n)
	for i := range n {
		info, err := describe(i)
		if err != nil {
			return nil, fmt.Errorf("CUDA: device %d: %w", i, err)
		}
		infos = append(infos, info)
	}
	return infos, nil
}

func deviceCount() (int, error) {
	var n int32
	if err := check("cuDeviceGetCount", cuDeviceGetCount(&n)); err != nil {
		return 0, fmt.Errorf("CUDA: %w", err)
	}
	return int(n), nil
}

// describe reads device index's name, multiprocessors, compute capability
// and memory.
func describe(index int) (hasher.DeviceInfo, error) {
	info := hasher.DeviceInfo{Backend: "cuda", Index: index, Type: "GPU"}
	var dev cuDevice
	if err := check("cuDeviceGet", cuDeviceGet(&dev, int32(index))); err != nil {
		return info, err
	}
	name := make([]byte, 256)
	if err := check("cuDeviceGetName", cuDeviceGetName(&name[0], int32(len(name)), dev)); err != nil {
		return info, err
	}
	info.Name = strings.TrimSpace(goString(name))
	var sms, major, minor int32
	for _, a := range []struct {
		attr int32
		v    *int32
	}{
		{attrMultiprocessorCount, &sms},
		{attrComputeCapabilityMajor, &major},
		{attrComputeCapabilityMinor, &minor},
	} {
		if err := check("cuDeviceGetAttribute", cuDeviceGetAttribute(a.v, a.attr, dev)); err != nil {
			return info, err
		}
	}
	info.ComputeUnits = int(sms)
	info.Capability = fmt.Sprintf("%d.%d", major, minor)
	var mem uintptr
	if err := check("cuDeviceTotalMem", cuDeviceTotalMem(&mem, dev)); err != nil {
		return info, err
	}
	info.MemoryBytes = uint64(mem)
	return info, nil
}

// Open prepares a listed device: its primary context, the kernel compiled
// for it, and device buffers for the job and the results. The returned
// device also has Close, which frees them.
func (b *Backend) Open(info hasher.DeviceInfo) (hasher.Device, error) {
	if err := driver(); err != nil {
		return nil, err
	}
	if info.Backend != "cuda" {
		return nil, fmt.Errorf("CUDA: %s is not a CUDA device", info.ID())
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n, err := deviceCount()
	if err != nil {
		return nil, err
	}
	if info.Index < 0 || info.Index >= n {
		return nil, fmt.Errorf("CUDA: no device %d (%d found)", info.Index, n)
	}
	d := &device{info: info, intensity: b.opts.Intensity, block: blockSize, nonces: kernels.NoncesPerThread}
	if b.opts.Shape.Threads > 0 {
		d.block = uint32(b.opts.Shape.Threads)
	}
	if b.opts.Shape.Nonces > 0 {
		d.nonces = uint32(b.opts.Shape.Nonces)
	}
	if err := d.open(); err != nil {
		if rerr := d.release(); rerr != nil {
			err = fmt.Errorf("%w (and releasing: %v)", err, rerr)
		}
		return nil, fmt.Errorf("CUDA: %w", err)
	}
	return d, nil
}

// device is one opened GPU; each Search holds one of its slots.
type device struct {
	info      hasher.DeviceInfo
	intensity int
	block     uint32 // threads per block
	nonces    uint32 // nonces per thread

	dev      cuDevice
	ctx      cuContext
	retained bool // the primary context is retained
	ptx      []byte
	mod      cuModule
	fn       cuFunc
	slots    []*slot
	pool     *hasher.Slots[*slot] // nil until every slot is made
	// nvml is the device's NVML handle, 0 with healthErr saying why
	// health is not available.
	nvml      uintptr
	healthErr error

	broken atomic.Bool // a sticky error broke the context: Close resets it
}

// closeWait is how long Close waits for the Searches in progress.
const closeWait = 5 * time.Second

// slots is how many launches a device keeps going at once, each on its own
// stream with its own buffers: the scheduler runs two lanes on the device
// (Lanes), so while the host reads one launch's hits and prepares the next
// job, the other launch keeps the GPU busy.
const slots = 2

// slot is one stream and what its launches use.
type slot struct {
	device   *device
	stream   cuStream
	job, out devPtr
	hits     []uint32 // host copy of the hits, kernels.ResultCap words

	// args holds the kernel's arguments (job, out) and params points at
	// each, as cuLaunchKernel reads them. args is pinned for each launch:
	// the driver reads it through a pointer held in Go memory. (Pinned only
	// per launch: a runtime.Pinner that is collected while pinning
	// panics, and a device may be dropped without Close.)
	args   *[2]devPtr
	params *[2]unsafe.Pointer
}

// open does Open's work on a locked thread; what it did before an error is
// undone by release.
func (d *device) open() error {
	if err := check("cuDeviceGet", cuDeviceGet(&d.dev, int32(d.info.Index))); err != nil {
		return err
	}
	// Sleep rather than spin while waiting for a launch: a spinning wait
	// takes a CPU core from the CPU hashers for the whole launch. Best
	// effort: a driver without it, or refusing, keeps its default.
	if cuDevicePrimaryCtxSetFlags != nil {
		_ = cuDevicePrimaryCtxSetFlags(d.dev, ctxSchedBlockingSync)
	}
	if err := check("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain(&d.ctx, d.dev)); err != nil {
		return err
	}
	d.retained = true
	if err := check("cuCtxSetCurrent", cuCtxSetCurrent(d.ctx)); err != nil {
		return err
	}
	if err := d.loadModule(); err != nil {
		return fmt.Errorf("load kernel: %w", err)
	}
	name := append([]byte(kernels.KernelName), 0)
	if err := check("cuModuleGetFunction", cuModuleGetFunction(&d.fn, d.mod, &name[0])); err != nil {
		return fmt.Errorf("kernel %s: %w", kernels.KernelName, err)
	}
	for range slots {
		s := &slot{device: d, hits: make([]uint32, kernels.ResultCap)}
		d.slots = append(d.slots, s) // released by release, even half made
		if err := s.open(); err != nil {
			return err
		}
	}
	d.pool = hasher.NewSlots(d.slots)
	d.nvml, d.healthErr = nvmlHandle(d.dev)
	return nil
}

// Health reads the GPU's temperature, power, fan and clocks from NVML.
func (d *device) Health() (hasher.Health, error) {
	if d.healthErr != nil {
		return hasher.Health{}, d.healthErr
	}
	return readHealth(d.nvml), nil
}

// open creates the slot's stream and buffers.
func (s *slot) open() error {
	if err := check("cuStreamCreate", cuStreamCreate(&s.stream, streamNonBlocking)); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	if err := check("cuMemAlloc", cuMemAlloc(&s.job, kernels.JobWords*4)); err != nil {
		return fmt.Errorf("job buffer: %w", err)
	}
	if err := check("cuMemAlloc", cuMemAlloc(&s.out, kernels.ResultWords*4)); err != nil {
		return fmt.Errorf("result buffer: %w", err)
	}
	s.args = &[2]devPtr{s.job, s.out}
	s.params = &[2]unsafe.Pointer{unsafe.Pointer(&s.args[0]), unsafe.Pointer(&s.args[1])}
	return nil
}

// loadModule has the driver compile the newest PTX that the device's
// compute capability allows and the driver accepts (kernels.Programs); when
// none loads, the error carries the JIT compiler's log of the oldest.
func (d *device) loadModule() error {
	var err error
	for _, p := range programsFor(d.info.Capability) {
		if err = d.loadPTX(p.PTX); err == nil {
			d.info.Program = p.Arch
			return nil
		}
	}
	return err
}

// programsFor lists the programs a device of compute capability "M.m" may
// run, newest first.
func programsFor(capability string) []kernels.Program {
	major, _, _ := strings.Cut(capability, ".")
	m, err := strconv.Atoi(major)
	var out []kernels.Program
	for _, p := range kernels.Programs {
		if err != nil || p.MinMajor <= m {
			out = append(out, p)
		}
	}
	return out
}

// loadPTX loads one PTX text into d.mod.
func (d *device) loadPTX(ptx string) error {
	d.ptx = append([]byte(ptx), 0)
	log := make([]byte, 16<<10)
	var pin runtime.Pinner
	pin.Pin(&log[0])
	defer pin.Unpin()
	opts := [2]int32{jitErrorLogBuffer, jitErrorLogBufferSizeBytes}
	vals := [2]uintptr{uintptr(unsafe.Pointer(&log[0])), uintptr(len(log))}
	r := cuModuleLoadDataEx(&d.mod, &d.ptx[0], uint32(len(opts)), &opts[0], &vals[0])
	runtime.KeepAlive(log)
	runtime.KeepAlive(d.ptx)
	if err := check("cuModuleLoadDataEx", r); err != nil {
		err.(*Error).Log = strings.TrimSpace(goString(log))
		d.mod = 0
		return err
	}
	return nil
}

// release frees what open made, in reverse order, and collects the errors.
func (d *device) release() error {
	var errs []error
	if d.retained {
		errs = append(errs, check("cuCtxSetCurrent", cuCtxSetCurrent(d.ctx)))
	}
	for _, s := range d.slots {
		if s.stream != 0 {
			errs = append(errs, check("cuStreamSynchronize", cuStreamSynchronize(s.stream)))
		}
		if s.out != 0 {
			errs = append(errs, check("cuMemFree", cuMemFree(s.out)))
			s.out = 0
		}
		if s.job != 0 {
			errs = append(errs, check("cuMemFree", cuMemFree(s.job)))
			s.job = 0
		}
		if s.stream != 0 {
			errs = append(errs, check("cuStreamDestroy", cuStreamDestroy(s.stream)))
			s.stream = 0
		}
		s.args, s.params = nil, nil
	}
	if d.mod != 0 {
		errs = append(errs, check("cuModuleUnload", cuModuleUnload(d.mod)))
		d.mod, d.fn = 0, 0
	}
	if d.retained {
		cuCtxSetCurrent(0)
		errs = append(errs, check("cuDevicePrimaryCtxRelease", cuDevicePrimaryCtxRelease(d.dev)))
		d.retained, d.ctx = false, 0
	}
	// After a sticky error the frees above fail too; the reset destroys
	// the broken context so that the next Open, in this process, starts
	// afresh.
	if d.broken.Load() && cuDevicePrimaryCtxReset != nil {
		if err := check("cuDevicePrimaryCtxReset", cuDevicePrimaryCtxReset(d.dev)); err == nil {
			return nil // what failed before the reset is gone with the context
		}
	}
	return errors.Join(errs...)
}

// Close waits for the Searches holding a slot, frees the device's buffers,
// streams and kernel and releases its primary context. Searching a closed
// device fails; closing it again does nothing.
func (d *device) Close() error {
	switch already, idle := d.pool.Close(closeWait); {
	case already:
		return nil
	case !idle:
		return fmt.Errorf("CUDA: close %s: a launch still runs after %v; its context is left", d.info.ID(), closeWait)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.release(); err != nil {
		return fmt.Errorf("CUDA: close %s: %w", d.info.ID(), err)
	}
	return nil
}

func (d *device) Info() hasher.DeviceInfo { return d.info }

// Lanes is one per slot: two Searches at a time, each on its own stream.
func (d *device) Lanes() int { return slots }

// Batch is 2^intensity nonces per launch, fixed, when an intensity is set;
// otherwise 2^26 to start, tuned toward 100 ms per launch.
func (d *device) Batch() (uint64, time.Duration) {
	if d.intensity > 0 {
		return 1 << d.intensity, 0
	}
	return autoBatch, autoBatchTime
}

// Search runs the kernel over the range on a free slot (hasher.SearchGPU).
func (d *device) Search(w *hasher.Work, start, count uint32, hits []uint32) ([]uint32, error) {
	s, ok := d.pool.Take()
	if !ok {
		return hits, fmt.Errorf("CUDA: %s is closed", d.info.ID())
	}
	defer d.pool.Put(s)
	return hasher.SearchGPU(s.launch, s.hits, w, start, count, hits)
}

// gridFor returns the blocks of block threads that cover count nonces:
// each thread searches nonces of them, and threads past the count return at
// once.
func gridFor(count, nonces, block uint32) uint32 {
	threads := (uint64(count) + uint64(nonces) - 1) / uint64(nonces)
	return uint32((threads + uint64(block) - 1) / uint64(block))
}

// launch is the hasher.Launch of a slot: job in, hit count cleared, kernel
// run, the count and then only the hits out, in order on the slot's stream
// while the other slot's launch runs.
func (s *slot) launch(job *kernels.Job, out []uint32) (uint32, error) {
	d := s.device
	count := job.Count()
	if count == 0 {
		return 0, nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n, err := s.run(job, count, out)
	if err != nil {
		if sticky(err) {
			d.broken.Store(true)
		}
		return 0, fmt.Errorf("CUDA: %s: %w", d.info.ID(), err)
	}
	return n, nil
}

func (s *slot) run(job *kernels.Job, count uint32, out []uint32) (uint32, error) {
	if err := check("cuCtxSetCurrent", cuCtxSetCurrent(s.device.ctx)); err != nil {
		return 0, err
	}
	job.SetNoncesPerThread(s.device.nonces)
	if err := check("cuMemcpyHtoDAsync", cuMemcpyHtoDAsync(s.job, unsafe.Pointer(&job[0]), kernels.JobWords*4, s.stream)); err != nil {
		return 0, err
	}
	if err := check("cuMemsetD32Async", cuMemsetD32Async(s.out, 0, 1, s.stream)); err != nil {
		return 0, err
	}
	var pin runtime.Pinner
	pin.Pin(s.args)
	r := cuLaunchKernel(s.device.fn, gridFor(count, s.device.nonces, s.device.block), 1, 1, s.device.block, 1, 1, 0, uintptr(s.stream), &s.params[0], nil)
	pin.Unpin()
	if err := check("cuLaunchKernel", r); err != nil {
		return 0, err
	}
	// The copies read and write Go memory: each waits for its stream
	// before the memory is used (pageable memory copies synchronously).
	var n uint32
	if err := check("cuMemcpyDtoHAsync", cuMemcpyDtoHAsync(unsafe.Pointer(&n), s.out, 4, s.stream)); err != nil {
		return 0, err
	}
	if err := check("cuStreamSynchronize", cuStreamSynchronize(s.stream)); err != nil {
		return 0, err
	}
	if k := min(n, kernels.ResultCap); k > 0 {
		if err := check("cuMemcpyDtoHAsync", cuMemcpyDtoHAsync(unsafe.Pointer(&out[0]), s.out+4, uintptr(k)*4, s.stream)); err != nil {
			return 0, err
		}
		if err := check("cuStreamSynchronize", cuStreamSynchronize(s.stream)); err != nil {
			return 0, err
		}
	}
	runtime.KeepAlive(job)
	return n, nil
}
