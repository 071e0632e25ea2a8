package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hashforge/hashforge/hasher"
)

func runDevices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("miner devices", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per device")
	if err := parse(fs, args); err != nil {
		return err
	}
	infos := []hasher.DeviceInfo{hasher.CPUInfo()}
	for _, d := range infos {
		if *asJSON {
			json.NewEncoder(stdout).Encode(d)
			continue
		}
		fmt.Fprintf(stdout, "%-6s %s, %d cores, %s\n", d.ID(), d.Name, d.Threads, strings.Join(d.Features, " "))
	}
	if !*asJSON {
		fmt.Fprintln(stdout, "CUDA:   not built in yet")
		fmt.Fprintln(stdout, "OpenCL: not built in yet")
	}
	return nil
}
