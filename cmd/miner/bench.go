package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hashforge/hashforge/hasher"
)

var discardLogger = slog.New(slog.DiscardHandler)

// benchResult is one device's line of `miner bench --json`.
type benchResult struct {
	Backend  string  `json:"backend"`
	Device   string  `json:"device"`
	Threads  int     `json:"threads"`
	Hashes   uint64  `json:"hashes"`
	Seconds  float64 `json:"seconds"`
	Hashrate float64 `json:"hashrate"` // H/s
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("miner bench", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: miner bench [--backend cpu|cuda|opencl] [--devices IDS] [-t N] [--duration 10s] [--json]\n\n"+
			"Hash random work for the duration and print each device's hashrate.\n\nFlags:\n%s", fs.FlagUsages())
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
	devices, err := hash.open(false)
	if err != nil {
		return err
	}
	defer hasher.CloseAll(devices)

	// A random header under a zero target: every nonce is hashed, none is a hit.
	var w hasher.Work
	rand.Read(w.Header[:])
	sched := hasher.NewScheduler(devices, discardLogger)
	runCtx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	done := make(chan struct{})
	t0 := time.Now()
	go func() { sched.Run(runCtx); close(done) }()
	// When a header's nonces run out, change its extranonce-like bytes and go on.
	for runCtx.Err() == nil {
		job, err := sched.Submit(w, 0, hasher.NonceSpace, nil)
		if err != nil {
			return err
		}
		select {
		case <-runCtx.Done():
		case <-job.Exhausted():
			w.Header[0]++
		}
	}
	<-done
	// Interrupted early, the figures still hold for the time that ran.
	secs := time.Since(t0).Seconds()

	enc := json.NewEncoder(stdout)
	for _, s := range sched.Stats() {
		r := benchResult{Backend: s.Info.Backend, Device: s.Info.ID(), Threads: s.Info.Threads,
			Hashes: s.Hashes, Seconds: secs, Hashrate: float64(s.Hashes) / secs}
		if *asJSON {
			enc.Encode(r)
			continue
		}
		fmt.Fprintf(stdout, "%s (%s): %s (%d hashes in %.2f s)\n",
			r.Device, describe(s.Info), formatRate(r.Hashrate), r.Hashes, r.Seconds)
	}
	return nil
}
