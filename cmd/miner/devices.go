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
	Backend string              `json:"backend"`
	Devices []hasher.DeviceInfo `json:"devices"`
	Absent  string              `json:"absent,omitempty"` // why the backend has no device
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
		entry := deviceList{Backend: b.Name(), Devices: infos}
		if err != nil {
			entry.Absent = err.Error()
		}
		if *asJSON {
			enc.Encode(entry)
			continue
		}
		if err != nil {
			fmt.Fprintln(stdout, err)
		}
		for _, d := range infos {
			fmt.Fprintf(stdout, "%-8s %s\n", d.ID(), describe(d))
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
	if len(d.Features) > 0 {
		parts = append(parts, strings.Join(d.Features, " "))
	}
	if d.Impl != "" {
		parts = append(parts, d.Impl+" path")
	}
	return strings.Join(parts, ", ")
}
