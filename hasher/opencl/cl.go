package opencl

// The raw OpenCL 1.2 API: the few entry points the backend calls, bound at
// run time from the ICD loader with purego (load_purego.go), so neither cgo
// nor OpenCL headers are needed to build and a binary without OpenCL still
// starts.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// OpenCL handles (cl_platform_id, cl_context, cl_mem, ...) are opaque pointers,
// cl_int is int32, cl_uint and cl_bool uint32, bitfields uint64, size_t uintptr.

const (
	clSuccess             = 0
	clDeviceNotFound      = -1
	clPlatformNotFoundKHR = -1001

	clDeviceTypeCPU         = 1 << 1
	clDeviceTypeGPU         = 1 << 2
	clDeviceTypeAccelerator = 1 << 3
	clDeviceTypeAll         = 0xFFFFFFFF

	clPlatformName          = 0x0902
	clDeviceType            = 0x1000
	clDeviceMaxComputeUnits = 0x1002
	clDeviceGlobalMemSize   = 0x101F
	clDeviceName            = 0x102B
	clDriverVersion         = 0x102D
	clProgramBinarySizes    = 0x1165
	clProgramBinaries       = 0x1166
	clProgramBuildLog       = 0x1183
	clKernelWorkGroupSize   = 0x11B0

	clMemReadWrite = 1 << 0
	clMemReadOnly  = 1 << 2
	clTrue         = 1

	sizeofHandle = unsafe.Sizeof(uintptr(0))
	maxInfoSize  = 1 << 26 // refuse absurd clGet*Info sizes
)

const (
	libraryName     = "libOpenCL.so.1"
	libraryFallback = "libOpenCL.so" // a loader installed without its soname link
)

var (
	// errNoLoader is the error of every operation where libOpenCL.so.1
	// cannot be loaded: the machine has no OpenCL.
	errNoLoader = errors.New("OpenCL: no ICD loader (" + libraryName + " not found)")
	// errNoPlatform is List's error where the loader finds no driver.
	errNoPlatform = errors.New("OpenCL: no platform found (install an ICD, e.g. pocl-opencl-icd)")
)

var (
	clGetPlatformIDs          func(num uint32, platforms *uintptr, numRet *uint32) int32
	clGetPlatformInfo         func(platform uintptr, param uint32, size uintptr, value unsafe.Pointer, sizeRet *uintptr) int32
	clGetDeviceIDs            func(platform uintptr, typ uint64, num uint32, devices *uintptr, numRet *uint32) int32
	clGetDeviceInfo           func(device uintptr, param uint32, size uintptr, value unsafe.Pointer, sizeRet *uintptr) int32
	clCreateContext           func(props *uintptr, num uint32, devices *uintptr, notify, userData uintptr, errRet *int32) uintptr
	clCreateCommandQueue      func(context, device uintptr, props uint64, errRet *int32) uintptr
	clCreateProgramWithSource func(context uintptr, count uint32, sources **byte, lengths *uintptr, errRet *int32) uintptr
	clCreateProgramWithBinary func(context uintptr, num uint32, devices *uintptr, lengths *uintptr, binaries **byte, status *int32, errRet *int32) uintptr
	clBuildProgram            func(program uintptr, num uint32, devices *uintptr, options *byte, notify, userData uintptr) int32
	clGetProgramBuildInfo     func(program, device uintptr, param uint32, size uintptr, value unsafe.Pointer, sizeRet *uintptr) int32
	clGetProgramInfo          func(program uintptr, param uint32, size uintptr, value unsafe.Pointer, sizeRet *uintptr) int32
	clCreateKernel            func(program uintptr, name *byte, errRet *int32) uintptr
	clGetKernelWorkGroupInfo  func(kernel, device uintptr, param uint32, size uintptr, value unsafe.Pointer, sizeRet *uintptr) int32
	clCreateBuffer            func(context uintptr, flags uint64, size uintptr, host unsafe.Pointer, errRet *int32) uintptr
	clSetKernelArg            func(kernel uintptr, index uint32, size uintptr, value unsafe.Pointer) int32
	clEnqueueWriteBuffer      func(queue, buffer uintptr, blocking uint32, offset, size uintptr, ptr unsafe.Pointer, numEvents uint32, events, event *uintptr) int32
	clEnqueueReadBuffer       func(queue, buffer uintptr, blocking uint32, offset, size uintptr, ptr unsafe.Pointer, numEvents uint32, events, event *uintptr) int32
	clEnqueueNDRangeKernel    func(queue, kernel uintptr, dims uint32, offset, global, local *uintptr, numEvents uint32, events, event *uintptr) int32
	clFinish                  func(queue uintptr) int32
	clReleaseMemObject        func(mem uintptr) int32
	clReleaseKernel           func(kernel uintptr) int32
	clReleaseProgram          func(program uintptr) int32
	clReleaseCommandQueue     func(queue uintptr) int32
	clReleaseContext          func(context uintptr) int32
)

var (
	driverOnce sync.Once
	driverErr  error
)

// driver loads the ICD loader, which finds the installed OpenCL drivers, and
// binds the API, once per process; the error (errNoLoader or a library that
// lacks a function) is the same on every call.
func driver() error {
	driverOnce.Do(func() { driverErr = load(libraryName, libraryFallback) })
	return driverErr
}

// Error is a failed OpenCL call: the function, its CL error code and the
// code's name, such as CL_BUILD_PROGRAM_FAILURE.
type Error struct {
	Op   string // the OpenCL function, "clBuildProgram"
	Code int32  // the CL error code, -11
	Name string // the code's name in the OpenCL headers
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s (%d)", e.Op, e.Name, e.Code) }

// check turns a CL return code into nil or an *Error.
func check(op string, code int32) error {
	if code == clSuccess {
		return nil
	}
	return &Error{Op: op, Code: code, Name: errorName(code)}
}

// errorName names a CL error code, or "CL_ERROR" when it is not a known one.
func errorName(code int32) string {
	if name, ok := errorNames[code]; ok {
		return name
	}
	return "CL_ERROR"
}

var errorNames = map[int32]string{
	0:     "CL_SUCCESS",
	-1:    "CL_DEVICE_NOT_FOUND",
	-2:    "CL_DEVICE_NOT_AVAILABLE",
	-3:    "CL_COMPILER_NOT_AVAILABLE",
	-4:    "CL_MEM_OBJECT_ALLOCATION_FAILURE",
	-5:    "CL_OUT_OF_RESOURCES",
	-6:    "CL_OUT_OF_HOST_MEMORY",
	-7:    "CL_PROFILING_INFO_NOT_AVAILABLE",
	-8:    "CL_MEM_COPY_OVERLAP",
	-9:    "CL_IMAGE_FORMAT_MISMATCH",
	-10:   "CL_IMAGE_FORMAT_NOT_SUPPORTED",
	-11:   "CL_BUILD_PROGRAM_FAILURE",
	-12:   "CL_MAP_FAILURE",
	-13:   "CL_MISALIGNED_SUB_BUFFER_OFFSET",
	-14:   "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST",
	-15:   "CL_COMPILE_PROGRAM_FAILURE",
	-16:   "CL_LINKER_NOT_AVAILABLE",
	-17:   "CL_LINK_PROGRAM_FAILURE",
	-18:   "CL_DEVICE_PARTITION_FAILED",
	-19:   "CL_KERNEL_ARG_INFO_NOT_AVAILABLE",
	-30:   "CL_INVALID_VALUE",
	-31:   "CL_INVALID_DEVICE_TYPE",
	-32:   "CL_INVALID_PLATFORM",
	-33:   "CL_INVALID_DEVICE",
	-34:   "CL_INVALID_CONTEXT",
	-35:   "CL_INVALID_QUEUE_PROPERTIES",
	-36:   "CL_INVALID_COMMAND_QUEUE",
	-37:   "CL_INVALID_HOST_PTR",
	-38:   "CL_INVALID_MEM_OBJECT",
	-39:   "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR",
	-40:   "CL_INVALID_IMAGE_SIZE",
	-41:   "CL_INVALID_SAMPLER",
	-42:   "CL_INVALID_BINARY",
	-43:   "CL_INVALID_BUILD_OPTIONS",
	-44:   "CL_INVALID_PROGRAM",
	-45:   "CL_INVALID_PROGRAM_EXECUTABLE",
	-46:   "CL_INVALID_KERNEL_NAME",
	-47:   "CL_INVALID_KERNEL_DEFINITION",
	-48:   "CL_INVALID_KERNEL",
	-49:   "CL_INVALID_ARG_INDEX",
	-50:   "CL_INVALID_ARG_VALUE",
	-51:   "CL_INVALID_ARG_SIZE",
	-52:   "CL_INVALID_KERNEL_ARGS",
	-53:   "CL_INVALID_WORK_DIMENSION",
	-54:   "CL_INVALID_WORK_GROUP_SIZE",
	-55:   "CL_INVALID_WORK_ITEM_SIZE",
	-56:   "CL_INVALID_GLOBAL_OFFSET",
	-57:   "CL_INVALID_EVENT_WAIT_LIST",
	-58:   "CL_INVALID_EVENT",
	-59:   "CL_INVALID_OPERATION",
	-60:   "CL_INVALID_GL_OBJECT",
	-61:   "CL_INVALID_BUFFER_SIZE",
	-62:   "CL_INVALID_MIP_LEVEL",
	-63:   "CL_INVALID_GLOBAL_WORK_SIZE",
	-64:   "CL_INVALID_PROPERTY",
	-65:   "CL_INVALID_IMAGE_DESCRIPTOR",
	-66:   "CL_INVALID_COMPILER_OPTIONS",
	-67:   "CL_INVALID_LINKER_OPTIONS",
	-68:   "CL_INVALID_DEVICE_PARTITION_COUNT",
	-69:   "CL_INVALID_PIPE_SIZE",
	-70:   "CL_INVALID_DEVICE_QUEUE",
	-71:   "CL_INVALID_SPEC_ID",
	-72:   "CL_MAX_SIZE_RESTRICTION_EXCEEDED",
	-1001: "CL_PLATFORM_NOT_FOUND_KHR",
}

// infoFunc is one clGet*Info call with its object and parameter bound.
type infoFunc func(size uintptr, value unsafe.Pointer, sizeRet *uintptr) int32

// getInfo runs the clGet*Info pattern: ask the size, then fill a buffer of it.
func getInfo(op string, query infoFunc) ([]byte, error) {
	var n uintptr
	if err := check(op, query(0, nil, &n)); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	if n > maxInfoSize {
		return nil, fmt.Errorf("%s: implausible size %d", op, n)
	}
	buf := make([]byte, n)
	if err := check(op, query(n, unsafe.Pointer(&buf[0]), nil)); err != nil {
		return nil, err
	}
	return buf, nil
}

// infoString reads a char[] answer: up to its NUL, without surrounding space
// (some drivers pad device names).
func infoString(op string, query infoFunc) (string, error) {
	b, err := getInfo(op, query)
	if err != nil {
		return "", err
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b)), nil
}

// infoUint reads a cl_uint, cl_ulong, cl_bitfield or size_t answer.
func infoUint(op string, query infoFunc) (uint64, error) {
	b, err := getInfo(op, query)
	if err != nil {
		return 0, err
	}
	switch len(b) {
	case 4:
		return uint64(binary.NativeEndian.Uint32(b)), nil
	case 8:
		return binary.NativeEndian.Uint64(b), nil
	}
	return 0, fmt.Errorf("%s: unexpected answer of %d bytes", op, len(b))
}

func platformInfo(platform uintptr, param uint32) infoFunc {
	return func(size uintptr, value unsafe.Pointer, sizeRet *uintptr) int32 {
		return clGetPlatformInfo(platform, param, size, value, sizeRet)
	}
}

func deviceInfo(device uintptr, param uint32) infoFunc {
	return func(size uintptr, value unsafe.Pointer, sizeRet *uintptr) int32 {
		return clGetDeviceInfo(device, param, size, value, sizeRet)
	}
}

func programInfo(program uintptr, param uint32) infoFunc {
	return func(size uintptr, value unsafe.Pointer, sizeRet *uintptr) int32 {
		return clGetProgramInfo(program, param, size, value, sizeRet)
	}
}

func programBuildInfo(program, device uintptr, param uint32) infoFunc {
	return func(size uintptr, value unsafe.Pointer, sizeRet *uintptr) int32 {
		return clGetProgramBuildInfo(program, device, param, size, value, sizeRet)
	}
}

func kernelWorkGroupInfo(kernel, device uintptr, param uint32) infoFunc {
	return func(size uintptr, value unsafe.Pointer, sizeRet *uintptr) int32 {
		return clGetKernelWorkGroupInfo(kernel, device, param, size, value, sizeRet)
	}
}

// cString returns s NUL-terminated, for const char * parameters.
func cString(s string) *byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return &b[0]
}
