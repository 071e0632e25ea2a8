//go:build !(linux || darwin || netbsd || (freebsd && cgo))

package opencl

import "errors"

// Where purego cannot load libraries (Windows, which has no libOpenCL.so.1,
// FreeBSD without cgo, other systems) the backend reports no ICD loader.

func openLibrary(names ...string) (uintptr, error) {
	return 0, errors.New("loading shared libraries is not supported here")
}

func lookup(lib uintptr, name string) (uintptr, error) {
	return 0, errors.New("loading shared libraries is not supported here")
}

func register(fptr any, sym uintptr) { panic("opencl: no library loader") }
