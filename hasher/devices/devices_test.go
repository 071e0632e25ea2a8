package devices

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
)

// valid is a choice every machine can meet: the CPU's portable path.
var valid = Options{Backend: "cpu", Threads: 1, CPUImpl: cpu.Generic}

func TestValidate(t *testing.T) {
	with := func(f func(*Options)) Options { o := valid; f(&o); return o }
	tests := []struct {
		name string
		opts Options
		want string // the error's text; "" for none
	}{
		{"valid", valid, ""},
		{"negative threads", with(func(o *Options) { o.Threads = -1 }), "--threads -1: want 0 (all cores) or more"},
		{"intensity too small", with(func(o *Options) { o.Intensity = 3 }), "--intensity 3: want 8 to 31"},
		{"intensity too large", with(func(o *Options) { o.Intensity = 32 }), "--intensity 32: want 8 to 31"},
		{"bad shape", with(func(o *Options) { o.Shape.Threads = 100 }), "--gpu-threads/--gpu-nonces: "},
		{"unknown backend", with(func(o *Options) { o.Backend = "fpga" }), `--backend "fpga": want cpu, cuda or opencl`},
		{"unknown CPU path", with(func(o *Options) { o.CPUImpl = "sse9" }), "--cpu-impl: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Validate: %v, want an OptionError starting %q", err, tt.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	devs, err := valid.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer hasher.CloseAll(devs)
	if len(devs) != 1 || devs[0].Info().ID() != "cpu0" || devs[0].Info().Impl != cpu.Generic {
		t.Errorf("opened %d devices, first %+v; want cpu0 on the generic path", len(devs), devs[0].Info())
	}

	unknown := valid
	unknown.IDs = []string{"cpu7"}
	if _, err := unknown.Open(); !errors.Is(err, hasher.ErrUnknownDevice) || !errors.As(err, new(*OptionError)) ||
		!strings.Contains(err.Error(), "cpu0") {
		t.Errorf("Open of cpu7: %v, want an OptionError naming the devices there are", err)
	}
}

// Asked for GPUs on a machine without one (CI: no CUDA driver, PoCL's
// device is a CPU), Open says so and what it found instead.
func TestOpenNoGPU(t *testing.T) {
	gpu := valid
	gpu.GPU = true
	_, cu, cl, err := gpu.Backends()
	if err != nil {
		t.Fatal(err)
	}
	if gpus, _ := hasher.ListGPUs(cu, cl); len(gpus) > 0 {
		t.Skipf("this machine has a GPU: %s", gpus[0].Info.Name)
	}
	_, err = gpu.Open()
	if !errors.As(err, new(*OptionError)) || !strings.HasPrefix(err.Error(), "-c/--gpu: no GPU found (") {
		t.Errorf("Open of every GPU: %v", err)
	}
}
