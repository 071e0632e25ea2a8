//go:build !(linux && !android && (amd64 || arm64))

package cuda

// load fails where purego cannot reach libcuda.so.1: other systems and
// architectures have no CUDA driver this backend can use.
func load() error { return errNoDriver }

// loadNVML fails where loading libcuda does.
func loadNVML() error { return errNoNVML }
