package cuda

// The raw CUDA driver API: the types, constants and functions of cuda.h that
// this backend uses, bound at run time from libcuda.so.1 (see load_purego.go)
// so that no CUDA toolkit, runtime library or cgo is needed to build.

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// Handles and values as cuda.h declares them.
type (
	result    uint32  // CUresult
	cuDevice  int32   // CUdevice: an ordinal
	cuContext uintptr // CUcontext
	cuModule  uintptr // CUmodule
	cuFunc    uintptr // CUfunction
	cuStream  uintptr // CUstream
	devPtr    uint64  // CUdeviceptr
)

const (
	cudaSuccess result = 0

	// CUdevice_attribute.
	attrMultiprocessorCount    int32 = 16
	attrComputeCapabilityMajor int32 = 75
	attrComputeCapabilityMinor int32 = 76

	// CUjit_option.
	jitErrorLogBuffer          int32 = 5
	jitErrorLogBufferSizeBytes int32 = 6

	// CU_CTX_SCHED_BLOCKING_SYNC: a thread waiting for the GPU sleeps
	// instead of spinning on a CPU core.
	ctxSchedBlockingSync uint32 = 0x4

	// CU_STREAM_NON_BLOCKING: the stream does not wait for the legacy
	// default stream, so two slots' launches and copies overlap.
	streamNonBlocking uint32 = 0x1
)

// Driver functions, nil until load succeeds. Each returns a CUresult.
var (
	cuInit                    func(flags uint32) result
	cuDeviceGetCount          func(count *int32) result
	cuDeviceGet               func(dev *cuDevice, ordinal int32) result
	cuDeviceGetName           func(name *byte, length int32, dev cuDevice) result
	cuDeviceGetAttribute      func(value *int32, attrib int32, dev cuDevice) result
	cuDeviceTotalMem          func(bytes *uintptr, dev cuDevice) result
	cuDevicePrimaryCtxRetain  func(ctx *cuContext, dev cuDevice) result
	cuDevicePrimaryCtxRelease func(dev cuDevice) result
	// cuDevicePrimaryCtxSetFlags stays nil where the driver lacks it.
	cuDevicePrimaryCtxSetFlags func(dev cuDevice, flags uint32) result
	// cuDevicePrimaryCtxReset stays nil where the driver lacks it.
	cuDevicePrimaryCtxReset func(dev cuDevice) result
	// cuDeviceGetPCIBusId stays nil where the driver lacks it.
	cuDeviceGetPCIBusId func(busID *byte, length int32, dev cuDevice) result
	cuCtxSetCurrent     func(ctx cuContext) result
	cuModuleLoadDataEx  func(mod *cuModule, image *byte, numOptions uint32, options *int32, optionValues *uintptr) result
	cuModuleGetFunction func(fn *cuFunc, mod cuModule, name *byte) result
	cuModuleUnload      func(mod cuModule) result
	cuMemAlloc          func(ptr *devPtr, bytes uintptr) result
	cuMemFree           func(ptr devPtr) result
	cuMemcpyHtoDAsync   func(dst devPtr, src unsafe.Pointer, bytes uintptr, stream cuStream) result
	cuMemcpyDtoHAsync   func(dst unsafe.Pointer, src devPtr, bytes uintptr, stream cuStream) result
	cuMemsetD32Async    func(dst devPtr, value uint32, n uintptr, stream cuStream) result
	cuStreamCreate      func(stream *cuStream, flags uint32) result
	cuStreamSynchronize func(stream cuStream) result
	cuStreamDestroy     func(stream cuStream) result
	cuLaunchKernel      func(fn cuFunc, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes uint32, stream uintptr, params *unsafe.Pointer, extra *unsafe.Pointer) result
	cuGetErrorName      func(code result, name **byte) result
	cuGetErrorString    func(code result, text **byte) result
)

// errNoDriver is the error of every operation where libcuda.so.1 cannot be
// loaded: the machine has no NVIDIA driver.
var errNoDriver = errors.New("CUDA: no driver (libcuda.so.1 not found)")

var (
	driverOnce sync.Once
	driverErr  error
)

// driver loads libcuda.so.1 and initializes it, once per process; the error
// (errNoDriver, a broken library, or cuInit's) is the same on every call.
func driver() error {
	driverOnce.Do(func() {
		if driverErr = load(); driverErr != nil {
			return
		}
		if err := check("cuInit", cuInit(0)); err != nil {
			driverErr = fmt.Errorf("CUDA: %w", err)
		}
	})
	return driverErr
}

// Error is a failed CUDA driver call: the function, its CUresult code and
// the code's name, such as CUDA_ERROR_NO_DEVICE.
type Error struct {
	Op   string // the driver function, "cuModuleLoadDataEx"
	Code uint32 // the CUresult, 218
	Name string // the code's name from the driver, or "CUresult(218)"
	// Text is the driver's description of the code, "no CUDA-capable
	// device is detected"; empty without a driver.
	Text string
	// Log is the JIT compiler's error log, for cuModuleLoadDataEx.
	Log string
}

func (e *Error) Error() string {
	s := e.Op + ": " + e.Name
	if e.Text != "" {
		s += " (" + e.Text + ")"
	}
	if e.Log != "" {
		s += ": " + e.Log
	}
	return s
}

// check returns nil for CUDA_SUCCESS, else an *Error naming op and code.
func check(op string, r result) error {
	if r == cudaSuccess {
		return nil
	}
	return &Error{Op: op, Code: uint32(r), Name: errorName(r), Text: errorText(r)}
}

// errorText asks the driver to describe a code, or returns "".
func errorText(r result) string {
	var p *byte
	if cuGetErrorString != nil && cuGetErrorString(r, &p) == cudaSuccess && p != nil {
		return cString(p, 256)
	}
	return ""
}

// errorName asks the driver for a code's name, "CUDA_ERROR_NO_DEVICE".
func errorName(r result) string {
	var p *byte
	if cuGetErrorName != nil && cuGetErrorName(r, &p) == cudaSuccess && p != nil {
		if s := cString(p, 128); s != "" {
			return s
		}
	}
	return fmt.Sprintf("CUresult(%d)", uint32(r))
}

// cString copies a NUL-terminated string of at most max bytes from C memory.
func cString(p *byte, max int) string {
	var b []byte
	for i := 0; i < max; i++ {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(p), i))
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// goString reads a NUL-terminated string from a Go buffer the driver filled.
func goString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// driverPresent reports whether libcuda.so.1 loads; tests use it to choose
// between the driverless and the GPU tests.
func driverPresent() bool { return !errors.Is(driver(), errNoDriver) }

// sticky reports whether err is a CUDA error that leaves the context
// unusable (an illegal address, a launch that failed or timed out, ...):
// every later call in the context fails until the primary context is reset.
func sticky(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case 700, 702, 714, 715, 716, 717, 718, 719:
		return true
	}
	return false
}
