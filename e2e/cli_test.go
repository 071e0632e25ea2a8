package e2e

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
)

// TestBadInput checks that every malformed request exits 2 before doing
// anything, with a message that names what was wrong.
func TestBadInput(t *testing.T) {
	header := zeroNonce(t, genesisHeader)
	tests := []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"non-hex header", []string{"search", "--header", strings.Repeat("zz", 80)}, []string{"--header", "80 bytes"}},
		{"short header", []string{"search", "--header", header[:158]}, []string{"--header", "80 bytes"}},
		{"no header", []string{"search"}, []string{"--header"}},
		{"count beyond nonce space", []string{"search", "--header", header, "--start", "4294967000", "--count", "1000"}, []string{"--count 1000", "296"}},
		// start+count wraps around 2^64 here; the check must not.
		{"count wraps uint64", []string{"search", "--header", header, "--start", "1", "--count", "18446744073709551615"}, []string{"--count"}},
		{"zero count", []string{"search", "--header", header, "--count", "0"}, []string{"--count 0"}},
		{"start beyond nonce space", []string{"search", "--header", header, "--start", "4294967296"}, []string{"--start"}},
		{"bits and target", []string{"search", "--header", header, "--bits", "1d00ffff", "--target", genesisHash}, []string{"--bits", "--target"}},
		{"bad bits", []string{"search", "--header", header, "--bits", "xyz"}, []string{"--bits", "xyz"}},
		{"bits with no target", []string{"search", "--header", header, "--bits", "00000000"}, []string{"bits 00000000"}},
		{"short target", []string{"search", "--header", header, "--target", "00ff"}, []string{"--target", "64 hex"}},
		{"negative threads", []string{"search", "--header", header, "-t", "-1"}, []string{"--threads -1"}},
		{"stray argument", []string{"search", "--header", header, "extra"}, []string{`"extra"`}},
		{"unknown subcommand", []string{"frobnicate"}, []string{`unknown command "frobnicate"`, "search", "verify"}},
		{"unknown flag", []string{"--frobnicate"}, []string{"unknown flag: --frobnicate"}},
		{"unknown search flag", []string{"search", "--frobnicate"}, []string{"unknown flag: --frobnicate"}},
		{"gpu mining", []string{"-c"}, []string{"GPU"}},
		{"cuda backend", []string{"-m", "--backend", "cuda"}, []string{"--backend cuda", "CUDA"}},
		{"gpu and backend", []string{"-c", "--backend", "cpu"}, []string{"-c", "--backend"}},
		{"unknown device", []string{"search", "--header", header, "--devices", "cpu7"}, []string{`"cpu7"`, "cpu0"}},
		{"intensity too small", []string{"bench", "--intensity", "3"}, []string{"--intensity 3"}},
		{"threads per block not a power of two", []string{"bench", "--gpu-threads", "100"}, []string{"--gpu-threads", "threads per block 100"}},
		{"too many nonces per thread", []string{"bench", "--gpu-nonces", "65"}, []string{"--gpu-nonces", "nonces per thread 65"}},
		{"unknown backend", []string{"--backend", "fpga"}, []string{`"fpga"`}},
		{"unknown network", []string{"--network", "foo"}, []string{`"foo"`, "regtest", "devnet"}},
		{"unknown log format", []string{"--log-format", "xml"}, []string{`"xml"`, "text", "json"}},
		{"unknown log level", []string{"--log-level", "loud"}, []string{`"loud"`}},
		{"bad address", []string{"--address", "nothex"}, []string{"--address", "nothex"}},
		{"bad peer", []string{"-k", "nohostport"}, []string{"--peer", "host:port"}},
		{"peer as two words", []string{"-k", "localhost", "8999"}, []string{"--peer localhost 8999", "-k localhost:8999"}},
		{"peer port out of range", []string{"-k", "localhost:99999"}, []string{"--peer", `"99999"`, "65535"}},
		{"peer port zero", []string{"-k", "localhost:0"}, []string{"--peer", `"0"`}},
		{"negative block interval", []string{"--block-interval", "-1s"}, []string{"--block-interval"}},
		{"absurd temperature limit", []string{"--gpu-temp-limit", "300"}, []string{"--gpu-temp-limit 300"}},
		{"http beyond loopback without a token", []string{"--http-addr", "0.0.0.0"}, []string{"--http-addr", "0.0.0.0:", "--api-token"}},
		{"zero bench duration", []string{"bench", "--duration", "0"}, []string{"--duration"}},
		{"bench with cuda", []string{"bench", "--backend", "cuda"}, []string{"cuda"}},
		{"unknown cpu path", []string{"bench", "--cpu-impl", "sse9"}, []string{"--cpu-impl", `"sse9"`, "avx512", "generic"}},
		{"every cpu path outside bench", []string{"-m", "--cpu-impl", "all"}, []string{"--cpu-impl", `"all"`}},
		{"every cpu path on opencl", []string{"bench", "--cpu-impl", "all", "--backend", "opencl"}, []string{"--cpu-impl all", "--backend"}},
		{"verify unknown network", []string{"verify", "--network", "foo"}, []string{`"foo"`}},
		{"reindex unknown network", []string{"reindex", "--network", "foo"}, []string{`"foo"`}},
		{"reindex stray argument", []string{"reindex", "extra"}, []string{`"extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantUsageError(t, tt.args, tt.want...) })
	}
}

// wantUsageError runs the miner with args and fails unless it exits with a
// usage error, prints nothing on stdout and mentions every want on stderr.
func wantUsageError(t *testing.T, args []string, want ...string) {
	t.Helper()
	r := runMiner(t, 10*time.Second, args...)
	if r.code != exitUsage {
		t.Errorf("exit %d, want %d\nstderr: %s", r.code, exitUsage, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q: want it to mention %q", r.stderr, w)
		}
	}
}

// TestHelp checks that asking for help is a success, not a usage error.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"search", "--help"}, {"bench", "--help"}, {"devices", "--help"}, {"verify", "--help"}, {"reindex", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runMiner(t, 10*time.Second, args...)
			if r.code != 0 || !strings.Contains(r.stdout, "Usage") || r.stderr != "" {
				t.Errorf("exit %d, stdout %q, stderr %q: want 0 and a usage text on stdout (miner --help | less)", r.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := runMiner(t, 10*time.Second, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "miner ") || len(strings.TrimSpace(r.stdout)) <= len("miner ") {
			t.Errorf("%v: exit %d, stdout %q: want 0 and \"miner VERSION\"", args, r.code, r.stdout)
		}
	}
}

// benchRecord is a line of `miner bench --json`: one device measured.
type benchRecord struct {
	Backend  string  `json:"backend"`
	Device   string  `json:"device"`
	Impl     string  `json:"impl"`
	Threads  int     `json:"threads"`
	Hashes   uint64  `json:"hashes"`
	Seconds  float64 `json:"seconds"`
	Hashrate float64 `json:"hashrate"`
}

// bench runs `miner bench --json` with args, which must succeed, and
// returns its records.
func bench(t *testing.T, timeout time.Duration, args ...string) []benchRecord {
	t.Helper()
	r := runMiner(t, timeout, append([]string{"bench", "--json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstderr: %s", r.code, r.stderr)
	}
	return jsonLines[benchRecord](t, r.stdout)
}

// TestBench runs a short benchmark and checks its one JSON record.
func TestBench(t *testing.T) {
	recs := bench(t, 30*time.Second, "--duration", "1s", "-t", "1")
	if len(recs) != 1 {
		t.Fatalf("records %+v: want exactly one (the CPU)", recs)
	}
	got := recs[0]
	if !slices.Contains(cpu.Available(), got.Impl) {
		t.Errorf("impl %q: want one of the CPU's paths %v", got.Impl, cpu.Available())
	}
	if got.Backend != "cpu" || got.Device != "cpu0" || got.Threads != 1 {
		t.Errorf("backend %q, device %q, threads %d: want cpu, cpu0, 1", got.Backend, got.Device, got.Threads)
	}
	if got.Seconds < 1 || got.Seconds > 10 {
		t.Errorf("seconds %v: want about the 1 s asked for", got.Seconds)
	}
	if got.Hashes == 0 || got.Hashrate <= 0 {
		t.Fatalf("hashes %d, hashrate %v: want both positive", got.Hashes, got.Hashrate)
	}
	if want := float64(got.Hashes) / got.Seconds; math.Abs(got.Hashrate-want) > want*1e-6 {
		t.Errorf("hashrate %v, want hashes/seconds = %v", got.Hashrate, want)
	}
}

// TestBenchEveryPath measures each CPU path this machine has, in turn.
func TestBenchEveryPath(t *testing.T) {
	var impls []string
	for _, rec := range bench(t, 60*time.Second, "--cpu-impl", "all", "--duration", "200ms", "-t", "1") {
		if rec.Hashrate <= 0 {
			t.Errorf("%s: hashrate %v, want it positive", rec.Impl, rec.Hashrate)
		}
		impls = append(impls, rec.Impl)
	}
	if want := cpu.Available(); !slices.Equal(impls, want) {
		t.Errorf("measured paths %v, want every available one: %v", impls, want)
	}
}

// listDevices runs `miner devices --json`: a listing per backend.
func listDevices(t *testing.T) []hasher.Listing {
	t.Helper()
	r := runMiner(t, 30*time.Second, "devices", "--json")
	if r.code != 0 {
		t.Fatalf("devices --json: exit %d: %s", r.code, r.stderr)
	}
	return jsonLines[hasher.Listing](t, r.stdout)
}

// TestDevices checks the listing: the CPU first, then each GPU backend with
// its devices or the reason it has none, as text and as JSON.
func TestDevices(t *testing.T) {
	r := runMiner(t, 30*time.Second, "devices")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "cpu0 ") {
		t.Errorf("devices: exit %d, stdout %q: want 0 and a cpu0 line first", r.code, r.stdout)
	}
	text := r.stdout
	got := listDevices(t)
	if len(got) != 3 || got[0].Backend != "cpu" || got[1].Backend != "cuda" || got[2].Backend != "opencl" {
		t.Fatalf("devices --json: %+v, want cpu, cuda and opencl entries", got)
	}
	if cpu := got[0].Devices; len(cpu) != 1 || cpu[0].Index != 0 || cpu[0].Threads < 1 {
		t.Errorf("cpu entry %+v, want one device at index 0 with its threads", got[0])
	}
	for _, e := range got[1:] {
		// A backend either lists devices or says why it has none, in the text listing too.
		if (len(e.Devices) == 0) == (e.Absent == "") {
			t.Errorf("%s entry %+v: want devices or a reason, not both or neither", e.Backend, e)
		}
		if e.Absent != "" && !strings.Contains(text, e.Absent) {
			t.Errorf("text listing %q lacks %q", text, e.Absent)
		}
	}
}
