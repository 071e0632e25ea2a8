package main

import (
	"errors"
	"slices"
	"strings"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/hasher/cuda"
	"github.com/hashforge/hashforge/hasher/opencl"
	flag "github.com/spf13/pflag"
)

// hashFlags choose the hashing devices; the node, search and bench share them.
type hashFlags struct {
	fs        *flag.FlagSet
	backend   string
	threads   int
	devices   []string
	intensity int
	shape     hasher.Shape
	cpuImpl   string
}

func addHashFlags(fs *flag.FlagSet) *hashFlags {
	h := &hashFlags{fs: fs}
	fs.StringVar(&h.backend, "backend", "cpu", "hashing backend: cpu, cuda or opencl (opencl also drives CPU devices such as PoCL)")
	fs.IntVarP(&h.threads, "threads", "t", 0, "CPU hashing threads (default: one per core)")
	fs.StringSliceVar(&h.devices, "devices", nil, "devices to use, by ID as `miner devices` lists them (e.g. cuda0,opencl1; default: all)")
	fs.IntVar(&h.intensity, "intensity", 0, "GPU launch size as a power of two, 8 to 31 (default: tuned to ~100 ms a launch)")
	fs.IntVar(&h.shape.Threads, "gpu-threads", 0, "GPU threads per block (CUDA) or work-group (OpenCL), a power of two from 32 to 256 (default: 256, or the largest the OpenCL device allows)")
	fs.IntVar(&h.shape.Nonces, "gpu-nonces", 0, "nonces each GPU thread searches, 1 to 64 (default 8)")
	fs.StringVar(&h.cpuImpl, "cpu-impl", cpu.Auto, "CPU SHA-256d path: "+strings.Join(cpu.Impls(), ", ")+" (auto: the fastest this CPU has)")
	return h
}

// backends returns the three backends, in the order devices are listed. The
// CPU backend fails only on a --cpu-impl this CPU cannot run.
func (h *hashFlags) backends() (cpuBackend, cu, cl hasher.Backend, err error) {
	c, err := cpu.NewImpl(h.threads, h.cpuImpl)
	if err != nil {
		return nil, nil, nil, usagef("--cpu-impl: %v", err)
	}
	return c, cuda.New(h.intensity).WithShape(h.shape), opencl.New(h.intensity).WithShape(h.shape), nil
}

// validate checks the flags without touching any device, so a node that
// does not mine still refuses bad ones.
func (h *hashFlags) validate(gpu bool) error {
	switch {
	case h.threads < 0:
		return usagef("--threads %d: want 0 (all cores) or more", h.threads)
	case h.intensity != 0 && (h.intensity < hasher.MinIntensity || h.intensity > hasher.MaxIntensity):
		return usagef("--intensity %d: want %d to %d", h.intensity, hasher.MinIntensity, hasher.MaxIntensity)
	case h.shape.Check() != nil:
		return usagef("--gpu-threads/--gpu-nonces: %v", h.shape.Check())
	case gpu && h.fs.Changed("backend"):
		return usagef("give -c/--gpu or --backend, not both")
	case !slices.Contains([]string{"cpu", "cuda", "opencl"}, h.backend):
		return usagef("--backend %q: want cpu, cuda or opencl", h.backend)
	}
	if _, err := cpu.NewImpl(1, h.cpuImpl); err != nil {
		return usagef("--cpu-impl: %v", err)
	}
	return nil
}

// open opens the devices to hash on. gpu (-c) means every GPU, and the CPU
// too when -t was given; otherwise --backend names one backend.
func (h *hashFlags) open(gpu bool) ([]hasher.Device, error) {
	if err := h.validate(gpu); err != nil {
		return nil, err
	}
	cpuBackend, cu, cl, err := h.backends()
	if err != nil {
		return nil, err
	}
	var cands []hasher.Candidate
	if gpu {
		gpus, notes := hasher.ListGPUs(cu, cl)
		if len(gpus) == 0 {
			return nil, usagef("-c/--gpu: no GPU found (%s)", strings.Join(notes, "; "))
		}
		cands = gpus
		if h.fs.Changed("threads") {
			cpus, _ := hasher.ListAll(cpuBackend)
			cands = append(cands, cpus...)
		}
	} else {
		b := map[string]hasher.Backend{"cpu": cpuBackend, "cuda": cu, "opencl": cl}[h.backend]
		if cands, err = hasher.ListAll(b); err != nil {
			return nil, usagef("--backend %s: %v", h.backend, err)
		}
	}
	devs, err := hasher.Open(cands, h.devices)
	if errors.Is(err, hasher.ErrUnknownDevice) {
		return nil, usagef("--devices: %v", err)
	}
	return devs, err
}
