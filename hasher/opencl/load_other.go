//go:build !(linux || darwin || netbsd || (freebsd && cgo))

package opencl

// load fails where purego cannot load libraries (Windows, which has no
// libOpenCL.so.1, FreeBSD without cgo, other systems): there is no OpenCL
// this backend can use.
func load(names ...string) error { return errNoLoader }
