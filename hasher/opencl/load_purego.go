//go:build linux || darwin || netbsd || (freebsd && cgo)

package opencl

import (
	"fmt"

	"github.com/ebitengine/purego"
)

// load opens the first library of names that loads and binds the API
// functions. No library is errNoLoader; a library that lacks a function is
// an OpenCL too old.
func load(names ...string) error {
	lib := open(names)
	if lib == 0 {
		return errNoLoader
	}
	funcs := []struct {
		fptr any
		name string
	}{
		{&clGetPlatformIDs, "clGetPlatformIDs"},
		{&clGetPlatformInfo, "clGetPlatformInfo"},
		{&clGetDeviceIDs, "clGetDeviceIDs"},
		{&clGetDeviceInfo, "clGetDeviceInfo"},
		{&clCreateContext, "clCreateContext"},
		{&clCreateCommandQueue, "clCreateCommandQueue"},
		{&clCreateProgramWithSource, "clCreateProgramWithSource"},
		{&clCreateProgramWithBinary, "clCreateProgramWithBinary"},
		{&clBuildProgram, "clBuildProgram"},
		{&clGetProgramBuildInfo, "clGetProgramBuildInfo"},
		{&clGetProgramInfo, "clGetProgramInfo"},
		{&clCreateKernel, "clCreateKernel"},
		{&clGetKernelWorkGroupInfo, "clGetKernelWorkGroupInfo"},
		{&clCreateBuffer, "clCreateBuffer"},
		{&clSetKernelArg, "clSetKernelArg"},
		{&clEnqueueWriteBuffer, "clEnqueueWriteBuffer"},
		{&clEnqueueReadBuffer, "clEnqueueReadBuffer"},
		{&clEnqueueNDRangeKernel, "clEnqueueNDRangeKernel"},
		{&clFinish, "clFinish"},
		{&clReleaseMemObject, "clReleaseMemObject"},
		{&clReleaseKernel, "clReleaseKernel"},
		{&clReleaseProgram, "clReleaseProgram"},
		{&clReleaseCommandQueue, "clReleaseCommandQueue"},
		{&clReleaseContext, "clReleaseContext"},
	}
	for _, f := range funcs {
		sym, err := purego.Dlsym(lib, f.name)
		if err != nil || sym == 0 {
			return fmt.Errorf("OpenCL: %s lacks %s", libraryName, f.name)
		}
		purego.RegisterFunc(f.fptr, sym)
	}
	return nil
}

// open dlopens the first of names that loads; 0 when none does.
func open(names []string) uintptr {
	for _, name := range names {
		if lib, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL); err == nil {
			return lib
		}
	}
	return 0
}
