package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hashforge/hashforge/hasher"
)

// deviceList is one backend's entry in `miner devices --json`.
type deviceList struct {
	Backend string        `json:"backend"`
	Devices []deviceEntry `json:"devices"`
	Absent  string        `json:"absent,omitempty"` // why the backend has no device
}

// deviceEntry is a listed device with, for a GPU, its health now or why
// there is none ("GPU health not available: no NVML ...").
type deviceEntry struct {
	hasher.DeviceInfo
	Health     *hasher.Health `json:"health,omitempty"`
	HealthNote string         `json:"health_note,omitempty"`
}

// healthReader is a backend that reads a listed device's health without
// opening it (CUDA, through NVML).
type healthReader interface {
	Health(hasher.DeviceInfo) (hasher.Health, error)
}

func runDevices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("miner devices", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: miner devices [--json]\n\n"+
			"List the CPU, every CUDA device and every OpenCL device, and why a backend has none.\n\nFlags:\n%s", fs.FlagUsages())
	}
	asJSON := fs.Bool("json", false, "print one JSON object per backend")
	if err := parse(fs, args); err != nil {
		return err
	}
	cpu, cu, cl, err := (&hashFlags{cpuImpl: "auto"}).backends()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, b := range []hasher.Backend{cpu, cu, cl} {
		infos, err := b.List()
		entry := deviceList{Backend: b.Name(), Devices: []deviceEntry{}}
		if err != nil {
			entry.Absent = err.Error()
		}
		for _, info := range infos {
			e := deviceEntry{DeviceInfo: info}
			if hr, ok := b.(healthReader); ok {
				if h, err := hr.Health(info); err != nil {
					e.HealthNote = err.Error()
				} else {
					e.Health = &h
				}
			}
			entry.Devices = append(entry.Devices, e)
		}
		if *asJSON {
			enc.Encode(entry)
			continue
		}
		if err != nil {
			fmt.Fprintln(stdout, err)
		}
		for _, e := range entry.Devices {
			fmt.Fprintf(stdout, "%-8s %s\n", e.ID(), describe(e.DeviceInfo))
			if e.Health != nil || e.HealthNote != "" {
				fmt.Fprintf(stdout, "%-8s %s\n", "", describeHealth(e.Health, e.HealthNote))
			}
		}
	}
	return nil
}

// describe writes what matters about a device in one line.
func describe(d hasher.DeviceInfo) string {
	parts := []string{d.Name}
	if d.Platform != "" {
		parts = append(parts, "platform "+d.Platform)
	}
	if d.Type != "" {
		parts = append(parts, d.Type)
	}
	switch {
	case d.Threads == 1:
		parts = append(parts, "1 thread")
	case d.Threads > 1:
		parts = append(parts, fmt.Sprintf("%d threads", d.Threads))
	}
	if d.ComputeUnits > 0 {
		unit := "compute units"
		if d.Backend == "cuda" {
			unit = "SMs"
		}
		parts = append(parts, fmt.Sprintf("%d %s", d.ComputeUnits, unit))
	}
	if d.MemoryBytes > 0 {
		parts = append(parts, fmt.Sprintf("%.1f GiB", float64(d.MemoryBytes)/(1<<30)))
	}
	if d.Capability != "" {
		parts = append(parts, "compute capability "+d.Capability)
	}
	if d.Program != "" {
		parts = append(parts, "PTX "+d.Program)
	}
	if len(d.Features) > 0 {
		parts = append(parts, strings.Join(d.Features, " "))
	}
	if d.Impl != "" {
		parts = append(parts, d.Impl+" path")
	}
	return strings.Join(parts, ", ")
}

// describeHealth writes a GPU's readings in one line, or why there are none.
func describeHealth(h *hasher.Health, note string) string {
	if h == nil {
		return note
	}
	var parts []string
	for _, r := range []struct {
		v      *float64
		format string
	}{
		{h.TemperatureC, "%.0f °C"}, {h.PowerW, "%.1f W"}, {h.FanPercent, "fan %.0f %%"},
		{h.SMClockMHz, "SM %.0f MHz"}, {h.MemoryClockMHz, "memory %.0f MHz"},
	} {
		if r.v != nil {
			parts = append(parts, fmt.Sprintf(r.format, *r.v))
		}
	}
	if len(parts) == 0 {
		return "GPU health: no readings"
	}
	return "health: " + strings.Join(parts, ", ")
}
