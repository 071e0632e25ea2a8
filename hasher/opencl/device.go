package opencl

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/kernels"
)

// device is an opened OpenCL device: what Open returns.
type device struct {
	info      hasher.DeviceInfo
	intensity int
	cachePath string // the program binary's file, "" without a cache directory
	fromCache bool   // the program was loaded from cachePath

	device  uintptr // cl_device_id
	context uintptr
	program uintptr
	local   uintptr // work-group size, a power of two
	threads int     // the work-group size a Shape asked for, 0: the largest
	nonces  uint32  // nonces per work-item
	slots   []*slot
	pool    *hasher.Slots[*slot] // nil until every slot is made
}

// closeWait is how long Close waits for the Searches in progress.
const closeWait = 5 * time.Second

// slots is how many launches a device keeps going at once, each with its own
// queue, kernel and buffers: the scheduler runs two lanes on the device
// (Lanes), so while the host reads one launch's hits and prepares the next
// job, the other launch keeps the device busy.
const slots = 2

// slot is one queue and what its launches use.
type slot struct {
	device *device
	queue  uintptr
	kernel uintptr
	job    uintptr  // cl_mem: kernels.JobWords words
	out    uintptr  // cl_mem: kernels.ResultWords words
	hits   []uint32 // host copy of the hits, kernels.ResultCap words
}

// maxLocalSize caps the work-group size. Every launch uses the same one:
// NULL would let the implementation pick a divisor of each global size (one
// for a prime), and PoCL compiles the kernel again for every new size.
const maxLocalSize = 256

// Info describes the device.
func (d *device) Info() hasher.DeviceInfo { return d.info }

// Lanes is one per slot: two Searches at a time, each on its own queue.
func (d *device) Lanes() int { return slots }

// Batch is 2^intensity nonces when an intensity was set; otherwise a start
// size by device type, tuned toward 100 ms launches.
func (d *device) Batch() (uint64, time.Duration) {
	if d.intensity > 0 {
		return 1 << d.intensity, 0
	}
	if d.info.Type == "GPU" {
		return startBatchGPU, batchTime
	}
	return startBatchCPU, batchTime
}

// Search hashes nonces [start, start+count) of w on a free slot.
func (d *device) Search(w *hasher.Work, start, count uint32, hits []uint32) ([]uint32, error) {
	s, ok := d.pool.Take()
	if !ok {
		return hits, errors.New("OpenCL: device closed")
	}
	defer d.pool.Put(s)
	return hasher.SearchGPU(s.launch, s.hits, w, start, count, hits)
}

// launch writes the job, clears the hit count, runs the kernel, reads the
// count and then only the hits, all in order on the slot's queue; the
// other slot's launch runs meanwhile.
func (s *slot) launch(job *kernels.Job, out []uint32) (uint32, error) {
	d := s.device
	count := job.Count()
	if count == 0 {
		return 0, nil // nothing to search; a zero global size is an error in OpenCL 1.x
	}
	job.SetNoncesPerThread(d.nonces)
	items := (uint64(count) + uint64(d.nonces) - 1) / uint64(d.nonces)
	// The global size is a multiple of the work-group size; the surplus
	// work-items find their nonces past the job's count and return at once.
	// At most 2^31 items: no nonce a work-item computes wraps.
	local := uint64(d.local)
	global := uintptr((items + local - 1) / local * local)
	var n uint32 // zero, then the kernel's count
	err := check("clEnqueueWriteBuffer", clEnqueueWriteBuffer(s.queue, s.job, clTrue, 0, kernels.JobWords*4, unsafe.Pointer(job), 0, nil, nil))
	if err == nil {
		err = check("clEnqueueWriteBuffer", clEnqueueWriteBuffer(s.queue, s.out, clTrue, 0, 4, unsafe.Pointer(&n), 0, nil, nil))
	}
	if err == nil {
		err = check("clEnqueueNDRangeKernel", clEnqueueNDRangeKernel(s.queue, s.kernel, 1, nil, &global, &d.local, 0, nil, nil))
	}
	if err == nil {
		err = check("clEnqueueReadBuffer", clEnqueueReadBuffer(s.queue, s.out, clTrue, 0, 4, unsafe.Pointer(&n), 0, nil, nil))
	}
	if k := min(n, kernels.ResultCap); err == nil && k > 0 {
		err = check("clEnqueueReadBuffer", clEnqueueReadBuffer(s.queue, s.out, clTrue, 4, uintptr(k)*4, unsafe.Pointer(&out[0]), 0, nil, nil))
	}
	if err != nil {
		return 0, fmt.Errorf("OpenCL: %w", err)
	}
	return n, nil
}

// Close waits for the Searches in progress and releases the device's
// OpenCL objects. Later Searches fail; Close may be called more than once.
func (d *device) Close() error {
	// A device whose Open failed half way has no pool yet, and nothing runs.
	if d.pool != nil {
		switch already, idle := d.pool.Close(closeWait); {
		case already:
			return nil
		case !idle:
			return fmt.Errorf("OpenCL: closing %s: a search still runs after %v; its objects are left", d.info.ID(), closeWait)
		}
	}
	var errs []error
	release := func(op string, h *uintptr, f func(uintptr) int32) {
		if *h != 0 {
			errs = append(errs, check(op, f(*h)))
			*h = 0
		}
	}
	for _, s := range d.slots {
		if s.queue != 0 {
			errs = append(errs, check("clFinish", clFinish(s.queue)))
		}
		release("clReleaseMemObject", &s.out, clReleaseMemObject)
		release("clReleaseMemObject", &s.job, clReleaseMemObject)
		release("clReleaseKernel", &s.kernel, clReleaseKernel)
		release("clReleaseCommandQueue", &s.queue, clReleaseCommandQueue)
	}
	release("clReleaseProgram", &d.program, clReleaseProgram)
	release("clReleaseContext", &d.context, clReleaseContext)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("OpenCL: closing %s: %w", d.info.ID(), err)
	}
	return nil
}
