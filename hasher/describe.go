package hasher

import (
	"fmt"
	"strings"
)

// FormatRate writes a hashrate with an SI prefix: every hashrate the
// commands print goes through it, so they all read alike.
func FormatRate(hs float64) string {
	for _, u := range []struct {
		div  float64
		unit string
	}{{1e12, "TH/s"}, {1e9, "GH/s"}, {1e6, "MH/s"}, {1e3, "kH/s"}} {
		if hs >= u.div {
			return fmt.Sprintf("%.2f %s", hs/u.div, u.unit)
		}
	}
	return fmt.Sprintf("%.0f H/s", hs)
}

// Describe writes what matters about a device in one line.
func (d DeviceInfo) Describe() string {
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

// Listing is one backend's devices as `miner devices` shows them.
type Listing struct {
	Backend string         `json:"backend"`
	Devices []ListedDevice `json:"devices"`
	Absent  string         `json:"absent,omitempty"` // why the backend has no device
}

// ListedDevice is a listed device with, for a GPU, its health now or why
// there is none ("GPU health not available: no NVML ...").
type ListedDevice struct {
	DeviceInfo
	Health     *Health `json:"health,omitempty"`
	HealthNote string  `json:"health_note,omitempty"`
}

// healthReader is a backend that reads a listed device's health without
// opening it (CUDA, through NVML).
type healthReader interface {
	Health(DeviceInfo) (Health, error)
}

// List lists b's devices, with their health where b reads it, and says why
// b has none.
func List(b Backend) Listing {
	infos, err := b.List()
	l := Listing{Backend: b.Name(), Devices: []ListedDevice{}}
	if err != nil {
		l.Absent = err.Error()
	}
	for _, info := range infos {
		d := ListedDevice{DeviceInfo: info}
		if hr, ok := b.(healthReader); ok {
			if h, err := hr.Health(info); err != nil {
				d.HealthNote = err.Error()
			} else {
				d.Health = &h
			}
		}
		l.Devices = append(l.Devices, d)
	}
	return l
}

// DescribeHealth writes a GPU's readings in one line, or why there are
// none; "" for a device without health (a CPU).
func (d ListedDevice) DescribeHealth() string {
	h := d.Health
	if h == nil {
		return d.HealthNote
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
