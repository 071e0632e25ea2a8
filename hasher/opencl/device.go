package opencl

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/kernels"
)

// Device is an opened OpenCL device.
type Device struct {
	info      hasher.DeviceInfo
	intensity int
	cachePath string // the program binary's file, "" without a cache directory
	fromCache bool   // the program was loaded from cachePath

	mu      sync.Mutex // one launch at a time; Close
	device  uintptr    // cl_device_id
	context uintptr
	queue   uintptr
	program uintptr
	kernel  uintptr
	job     uintptr  // cl_mem: kernels.JobWords words
	out     uintptr  // cl_mem: kernels.ResultWords words
	local   uintptr  // work-group size, a power of two
	hits    []uint32 // host copy of the hits, kernels.ResultCap words
	closed  bool
}

// maxLocalSize caps the work-group size. Every launch uses the same one:
// NULL would let the implementation pick a divisor of each global size (one
// for a prime), and PoCL compiles the kernel again for every new size.
const maxLocalSize = 256

// Info describes the device.
func (d *Device) Info() hasher.DeviceInfo { return d.info }

// Lanes is 1: one launch at a time fills the device.
func (d *Device) Lanes() int { return 1 }

// Batch is 2^intensity nonces when an intensity was set; otherwise a start
// size by device type, tuned toward 100 ms launches.
func (d *Device) Batch() (uint64, time.Duration) {
	if d.intensity > 0 {
		return 1 << d.intensity, 0
	}
	if d.info.Type == "GPU" {
		return startBatchGPU, batchTime
	}
	return startBatchCPU, batchTime
}

// Search hashes nonces [start, start+count) of w on the device. The
// scheduler runs one Search at a time on it (one lane), so the host buffer
// of hits is the device's own.
func (d *Device) Search(w *hasher.Work, start, count uint32, hits []uint32) ([]uint32, error) {
	return hasher.SearchGPU(d.launch, d.hits, w, start, count, hits)
}

// launch writes the job, clears the hit count, runs the kernel, reads the
// count and then only the hits, all in order on the device's queue.
func (d *Device) launch(job *kernels.Job, out []uint32) (uint32, error) {
	if len(out) < kernels.ResultCap {
		return 0, fmt.Errorf("OpenCL: result slice of %d words, want %d", len(out), kernels.ResultCap)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, errors.New("OpenCL: device closed")
	}
	count := job.Count()
	if count == 0 {
		return 0, nil // nothing to search; a zero global size is an error in OpenCL 1.x
	}
	items := (uint64(count) + kernels.NoncesPerThread - 1) / kernels.NoncesPerThread
	// The global size is a multiple of the work-group size; the surplus
	// work-items find their nonces past the job's count and return at once.
	// At most 2^29 items, a multiple of any local size: no nonce wraps.
	local := uint64(d.local)
	global := uintptr((items + local - 1) / local * local)
	var n uint32 // zero, then the kernel's count
	err := check("clEnqueueWriteBuffer", clEnqueueWriteBuffer(d.queue, d.job, clTrue, 0, kernels.JobWords*4, unsafe.Pointer(job), 0, nil, nil))
	if err == nil {
		err = check("clEnqueueWriteBuffer", clEnqueueWriteBuffer(d.queue, d.out, clTrue, 0, 4, unsafe.Pointer(&n), 0, nil, nil))
	}
	if err == nil {
		err = check("clEnqueueNDRangeKernel", clEnqueueNDRangeKernel(d.queue, d.kernel, 1, nil, &global, &d.local, 0, nil, nil))
	}
	if err == nil {
		err = check("clEnqueueReadBuffer", clEnqueueReadBuffer(d.queue, d.out, clTrue, 0, 4, unsafe.Pointer(&n), 0, nil, nil))
	}
	if k := min(n, kernels.ResultCap); err == nil && k > 0 {
		err = check("clEnqueueReadBuffer", clEnqueueReadBuffer(d.queue, d.out, clTrue, 4, uintptr(k)*4, unsafe.Pointer(&out[0]), 0, nil, nil))
	}
	if err != nil {
		return 0, fmt.Errorf("OpenCL: %w", err)
	}
	return n, nil
}

// Close waits for the queue and releases the device's OpenCL objects. Later
// Searches fail; Close may be called more than once.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	release := func(op string, h *uintptr, f func(uintptr) int32) {
		if *h != 0 {
			errs = append(errs, check(op, f(*h)))
			*h = 0
		}
	}
	if d.queue != 0 {
		errs = append(errs, check("clFinish", clFinish(d.queue)))
	}
	release("clReleaseMemObject", &d.out, clReleaseMemObject)
	release("clReleaseMemObject", &d.job, clReleaseMemObject)
	release("clReleaseKernel", &d.kernel, clReleaseKernel)
	release("clReleaseProgram", &d.program, clReleaseProgram)
	release("clReleaseCommandQueue", &d.queue, clReleaseCommandQueue)
	release("clReleaseContext", &d.context, clReleaseContext)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("OpenCL: closing %s: %w", d.info.ID(), err)
	}
	return nil
}
