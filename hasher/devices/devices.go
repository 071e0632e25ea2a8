// Package devices turns what a user asks for (a backend, -c for every GPU,
// device IDs, launch options, a CPU path) into open hashing devices. The
// node, `miner search` and `miner bench` share it, so they choose devices
// alike; it sits beside the backends because it names all three.
package devices

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/hasher/cuda"
	"github.com/hashforge/hashforge/hasher/opencl"
)

// Backend names, as --backend takes them.
var backendNames = []string{"cpu", "cuda", "opencl"}

// Options are the user's choice of devices.
type Options struct {
	Backend           string   // cpu, cuda or opencl; unused with GPU
	GPU               bool     // every GPU (CUDA, then OpenCL GPUs CUDA does not drive), and the CPU too when CPUAlso
	CPUAlso           bool     // with GPU: the CPU as well (-t given beside -c)
	Threads           int      // CPU lanes; 0: one per core
	IDs               []string // devices by ID ("cuda0"); empty: all
	hasher.GPUOptions          // GPU launch size and shape
	CPUImpl           string   // the CPU's SHA-256d path (cpu.Auto, cpu.Generic, ...)
}

// OptionError is a choice that cannot be met: a bad value, or a device or
// backend the machine lacks. Option is the flag as the user gave it, with
// its value where that says more.
type OptionError struct {
	Option string
	Err    error
}

func (e *OptionError) Error() string { return e.Option + ": " + e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

func optionError(option string, err error) error { return &OptionError{Option: option, Err: err} }

// Validate checks the options without touching any device, so a node that
// does not mine still refuses bad ones.
func (o Options) Validate() error {
	switch {
	case o.Threads < 0:
		return optionError(fmt.Sprintf("--threads %d", o.Threads), errors.New("want 0 (all cores) or more"))
	case o.Intensity != 0 && (o.Intensity < hasher.MinIntensity || o.Intensity > hasher.MaxIntensity):
		return optionError(fmt.Sprintf("--intensity %d", o.Intensity), fmt.Errorf("want %d to %d", hasher.MinIntensity, hasher.MaxIntensity))
	case o.Shape.Check() != nil:
		return optionError("--gpu-threads/--gpu-nonces", o.Shape.Check())
	case !slices.Contains(backendNames, o.Backend):
		return optionError(fmt.Sprintf("--backend %q", o.Backend), errors.New("want cpu, cuda or opencl"))
	}
	if _, err := cpu.NewImpl(1, o.CPUImpl); err != nil {
		return optionError("--cpu-impl", err)
	}
	return nil
}

// Backends returns the three backends, in the order devices are listed. The
// CPU backend fails only on a CPU path this CPU cannot run.
func (o Options) Backends() (cpuBackend, cu, cl hasher.Backend, err error) {
	c, err := cpu.NewImpl(o.Threads, o.CPUImpl)
	if err != nil {
		return nil, nil, nil, optionError("--cpu-impl", err)
	}
	return c, cuda.New(o.GPUOptions), opencl.New(o.GPUOptions), nil
}

// Open opens the devices the options choose.
func (o Options) Open() ([]hasher.Device, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cpuBackend, cu, cl, err := o.Backends()
	if err != nil {
		return nil, err
	}
	var cands []hasher.Candidate
	if o.GPU {
		gpus, notes := hasher.ListGPUs(cu, cl)
		if len(gpus) == 0 {
			return nil, optionError("-c/--gpu", fmt.Errorf("no GPU found (%s)", strings.Join(notes, "; ")))
		}
		cands = gpus
		if o.CPUAlso {
			cpus, _ := hasher.ListAll(cpuBackend)
			cands = append(cands, cpus...)
		}
	} else {
		b := map[string]hasher.Backend{"cpu": cpuBackend, "cuda": cu, "opencl": cl}[o.Backend]
		if cands, err = hasher.ListAll(b); err != nil {
			return nil, optionError("--backend "+o.Backend, err)
		}
	}
	devs, err := hasher.Open(cands, o.IDs)
	if errors.Is(err, hasher.ErrUnknownDevice) {
		return nil, optionError("--devices", err)
	}
	return devs, err
}
