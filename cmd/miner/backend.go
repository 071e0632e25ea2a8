package main

import (
	"errors"
	"strings"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/hasher/devices"
	flag "github.com/spf13/pflag"
)

// hashFlags choose the hashing devices; the node, search and bench share them.
type hashFlags struct {
	fs *flag.FlagSet
	devices.Options
}

func addHashFlags(fs *flag.FlagSet) *hashFlags {
	h := &hashFlags{fs: fs}
	fs.StringVar(&h.Backend, "backend", "cpu", "hashing backend: cpu, cuda or opencl (opencl also drives CPU devices such as PoCL)")
	fs.IntVarP(&h.Threads, "threads", "t", 0, "CPU hashing threads (default: one per core)")
	fs.StringSliceVar(&h.IDs, "devices", nil, "devices to use, by ID as `miner devices` lists them (e.g. cuda0,opencl1; default: all)")
	fs.IntVar(&h.Intensity, "intensity", 0, "GPU launch size as a power of two, 8 to 31 (default: tuned to ~100 ms a launch)")
	fs.IntVar(&h.Shape.Threads, "gpu-threads", 0, "GPU threads per block (CUDA) or work-group (OpenCL), a power of two from 32 to 256 (default: 256, or the largest the OpenCL device allows)")
	fs.IntVar(&h.Shape.Nonces, "gpu-nonces", 0, "nonces each GPU thread searches, 1 to 64 (default 8)")
	fs.StringVar(&h.CPUImpl, "cpu-impl", cpu.Auto, "CPU SHA-256d path: "+strings.Join(cpu.Impls(), ", ")+" (auto: the fastest this CPU has)")
	return h
}

// validate checks the flags without touching any device; gpu is -c.
func (h *hashFlags) validate(gpu bool) error {
	if gpu && h.fs.Changed("backend") {
		return usagef("give -c/--gpu or --backend, not both")
	}
	h.GPU, h.CPUAlso = gpu, gpu && h.fs.Changed("threads")
	return optionUsage(h.Validate())
}

// open opens the devices the flags choose; gpu is -c.
func (h *hashFlags) open(gpu bool) ([]hasher.Device, error) {
	if err := h.validate(gpu); err != nil {
		return nil, err
	}
	devs, err := h.Open()
	return devs, optionUsage(err)
}

// optionUsage marks a choice of devices that cannot be met as a usage error.
func optionUsage(err error) error {
	if errors.As(err, new(*devices.OptionError)) {
		return usageError{err}
	}
	return err
}
