package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
)

// benchResult is one device's line of `miner bench --json`.
type benchResult struct {
	Backend  string  `json:"backend"`
	Device   string  `json:"device"`
	Impl     string  `json:"impl,omitempty"` // the CPU's SHA-256d path
	Threads  int     `json:"threads"`
	Hashes   uint64  `json:"hashes"`
	Seconds  float64 `json:"seconds"`
	Hashrate float64 `json:"hashrate"` // H/s
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("miner bench", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: miner bench [--backend cpu|cuda|opencl] [--cpu-impl PATH|all] [--devices IDS] [-t N] [--duration 10s] [--json]\n\n"+
			"Hash random work for the duration and print each device's hashrate;\n--cpu-impl all measures every CPU path this machine has, one after another.\n\nFlags:\n%s", fs.FlagUsages())
	}
	hash := addHashFlags(fs)
	duration := fs.Duration("duration", 10*time.Second, "how long to hash")
	asJSON := fs.Bool("json", false, "print one JSON object per device")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *duration <= 0 {
		return usagef("--duration %s: must be positive", *duration)
	}
	impls := []string{hash.CPUImpl}
	if hash.CPUImpl == "all" {
		if hash.Backend != "cpu" {
			return usagef("--cpu-impl all measures the CPU backend's paths: leave --backend at cpu")
		}
		impls = cpu.Available()
	}
	enc := json.NewEncoder(stdout)
	for _, impl := range impls {
		hash.CPUImpl = impl
		if err := benchDevices(ctx, hash, *duration, *asJSON, enc, stdout); err != nil {
			return err
		}
	}
	return nil
}

// benchDevices measures the devices the flags name and prints their rates.
func benchDevices(ctx context.Context, hash *hashFlags, d time.Duration, asJSON bool, enc *json.Encoder, stdout io.Writer) error {
	devices, err := hash.open(false)
	if err != nil {
		return err
	}
	defer hasher.CloseAll(devices)
	stats, took, err := hasher.Bench(ctx, devices, d)
	if err != nil {
		return err
	}
	secs := took.Seconds()
	for _, s := range stats {
		r := benchResult{Backend: s.Info.Backend, Device: s.Info.ID(), Impl: s.Info.Impl, Threads: s.Info.Threads,
			Hashes: s.Hashes, Seconds: secs, Hashrate: float64(s.Hashes) / secs}
		if asJSON {
			enc.Encode(r)
			continue
		}
		fmt.Fprintf(stdout, "%s (%s): %s (%d hashes in %.2f s)\n",
			r.Device, s.Info.Describe(), hasher.FormatRate(r.Hashrate), r.Hashes, r.Seconds)
	}
	return nil
}
