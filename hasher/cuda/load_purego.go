//go:build linux && !android && (amd64 || arm64)

package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/ebitengine/purego"
)

// libName is the CUDA driver library that the NVIDIA driver installs.
const libName = "libcuda.so.1"

// load opens libcuda.so.1 and binds the driver functions. A missing library
// is errNoDriver; a library that lacks a function is a driver too old.
func load() error {
	// dlerror's message belongs to the thread that called dlopen; pinned, the
	// goroutine reads the reason from the same thread.
	runtime.LockOSThread()
	lib, err := purego.Dlopen(libName, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	runtime.UnlockOSThread()
	if err != nil {
		if msg := err.Error(); msg == "" || strings.Contains(msg, "No such file or directory") {
			return errNoDriver
		}
		return fmt.Errorf("CUDA: cannot load %s: %w", libName, err)
	}
	// The names cuda.h's macros expand to: cuMemAlloc is cuMemAlloc_v2.
	syms := []struct {
		fn    any
		names []string
	}{
		{&cuInit, []string{"cuInit"}},
		{&cuDeviceGetCount, []string{"cuDeviceGetCount"}},
		{&cuDeviceGet, []string{"cuDeviceGet"}},
		{&cuDeviceGetName, []string{"cuDeviceGetName"}},
		{&cuDeviceGetAttribute, []string{"cuDeviceGetAttribute"}},
		{&cuDeviceTotalMem, []string{"cuDeviceTotalMem_v2"}},
		{&cuDevicePrimaryCtxRetain, []string{"cuDevicePrimaryCtxRetain"}},
		{&cuDevicePrimaryCtxRelease, []string{"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}},
		{&cuCtxSetCurrent, []string{"cuCtxSetCurrent"}},
		{&cuModuleLoadDataEx, []string{"cuModuleLoadDataEx"}},
		{&cuModuleGetFunction, []string{"cuModuleGetFunction"}},
		{&cuModuleUnload, []string{"cuModuleUnload"}},
		{&cuMemAlloc, []string{"cuMemAlloc_v2"}},
		{&cuMemFree, []string{"cuMemFree_v2"}},
		{&cuMemcpyHtoDAsync, []string{"cuMemcpyHtoDAsync_v2"}},
		{&cuMemcpyDtoHAsync, []string{"cuMemcpyDtoHAsync_v2"}},
		{&cuMemsetD32Async, []string{"cuMemsetD32Async"}},
		{&cuStreamCreate, []string{"cuStreamCreate"}},
		{&cuStreamSynchronize, []string{"cuStreamSynchronize"}},
		{&cuStreamDestroy, []string{"cuStreamDestroy_v2", "cuStreamDestroy"}},
		{&cuLaunchKernel, []string{"cuLaunchKernel"}},
		{&cuGetErrorName, []string{"cuGetErrorName"}},
		{&cuGetErrorString, []string{"cuGetErrorString"}},
	}
	for _, s := range syms {
		sym, err := lookup(lib, s.names)
		if err != nil {
			return fmt.Errorf("CUDA: driver too old: %s lacks %s", libName, s.names[0])
		}
		purego.RegisterFunc(s.fn, sym)
	}
	// Optional: without it a context a sticky error broke stays broken
	// until the process ends.
	if sym, err := lookup(lib, []string{"cuDevicePrimaryCtxReset_v2", "cuDevicePrimaryCtxReset"}); err == nil {
		purego.RegisterFunc(&cuDevicePrimaryCtxReset, sym)
	}
	// Optional: without it a device's health is not available.
	if sym, err := lookup(lib, []string{"cuDeviceGetPCIBusId"}); err == nil {
		purego.RegisterFunc(&cuDeviceGetPCIBusId, sym)
	}
	// Optional: without it the driver's default scheduling applies.
	if sym, err := lookup(lib, []string{"cuDevicePrimaryCtxSetFlags_v2", "cuDevicePrimaryCtxSetFlags"}); err == nil {
		purego.RegisterFunc(&cuDevicePrimaryCtxSetFlags, sym)
	}
	return nil
}

// lookup returns the first of names that lib defines.
func lookup(lib uintptr, names []string) (uintptr, error) {
	err := errors.New("no names")
	for _, name := range names {
		var sym uintptr
		if sym, err = purego.Dlsym(lib, name); err == nil {
			return sym, nil
		}
	}
	return 0, err
}

// loadNVML opens libnvidia-ml.so.1 and binds the functions health reads.
func loadNVML() error {
	lib, err := purego.Dlopen(nvmlLibName, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return errNoNVML
	}
	for _, s := range []struct {
		fn    any
		names []string
	}{
		{&nvmlInit, []string{"nvmlInit_v2", "nvmlInit"}},
		{&nvmlDeviceGetHandleByPciBusId, []string{"nvmlDeviceGetHandleByPciBusId_v2", "nvmlDeviceGetHandleByPciBusId"}},
		{&nvmlDeviceGetTemperature, []string{"nvmlDeviceGetTemperature"}},
		{&nvmlDeviceGetPowerUsage, []string{"nvmlDeviceGetPowerUsage"}},
		{&nvmlDeviceGetFanSpeed, []string{"nvmlDeviceGetFanSpeed"}},
		{&nvmlDeviceGetClockInfo, []string{"nvmlDeviceGetClockInfo"}},
	} {
		sym, err := lookup(lib, s.names)
		if err != nil {
			return fmt.Errorf("GPU health not available: %s lacks %s", nvmlLibName, s.names[0])
		}
		purego.RegisterFunc(s.fn, sym)
	}
	return nil
}
