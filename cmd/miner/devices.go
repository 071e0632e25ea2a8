package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/devices"
)

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
	cpu, cu, cl, err := devices.Options{CPUImpl: "auto"}.Backends()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, b := range []hasher.Backend{cpu, cu, cl} {
		l := hasher.List(b)
		if *asJSON {
			enc.Encode(l)
			continue
		}
		if l.Absent != "" {
			fmt.Fprintln(stdout, l.Absent)
		}
		for _, d := range l.Devices {
			fmt.Fprintf(stdout, "%-8s %s\n", d.ID(), d.Describe())
			if health := d.DescribeHealth(); health != "" {
				fmt.Fprintf(stdout, "%-8s %s\n", "", health)
			}
		}
	}
	return nil
}
