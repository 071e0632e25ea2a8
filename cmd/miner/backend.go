package main

import (
	"github.com/hashforge/hashforge/hasher"
	flag "github.com/spf13/pflag"
)

// hashFlags choose the hashing backend; the node, search and bench share them.
type hashFlags struct {
	backend string
	threads int
}

func addHashFlags(fs *flag.FlagSet) *hashFlags {
	h := &hashFlags{}
	fs.StringVar(&h.backend, "backend", "cpu", "hashing backend: cpu")
	fs.IntVarP(&h.threads, "threads", "t", 0, "CPU hashing threads (default: one per core)")
	return h
}

func (h *hashFlags) open() (hasher.Backend, error) {
	if h.threads < 0 {
		return nil, usagef("--threads %d: want 0 (all cores) or more", h.threads)
	}
	switch h.backend {
	case "cpu":
		return hasher.NewCPU(h.threads), nil
	case "cuda", "opencl":
		return nil, usagef("--backend %s: this build has no GPU backends yet; use --backend cpu", h.backend)
	}
	return nil, usagef("--backend %q: want cpu", h.backend)
}

// devices opens the chosen backend's devices.
func (h *hashFlags) devices() ([]hasher.Device, error) {
	b, err := h.open()
	if err != nil {
		return nil, err
	}
	return b.Devices()
}
