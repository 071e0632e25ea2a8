//go:build linux || darwin || netbsd || (freebsd && cgo)

package opencl

import "github.com/ebitengine/purego"

// openLibrary dlopens the first of names that loads.
func openLibrary(names ...string) (uintptr, error) {
	var first error
	for _, name := range names {
		lib, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err == nil {
			return lib, nil
		}
		if first == nil {
			first = err
		}
	}
	return 0, first
}

func lookup(lib uintptr, name string) (uintptr, error) { return purego.Dlsym(lib, name) }

// register makes *fptr, a pointer to a func variable, call the C function sym.
func register(fptr any, sym uintptr) { purego.RegisterFunc(fptr, sym) }
