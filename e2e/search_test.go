package e2e

import (
	"encoding/hex"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashforge/hashforge/hasher/hashertest"
	"github.com/hashforge/hashforge/internal/testenv"
)

// searchCount is the range every search test hashes: a few milliseconds.
const searchCount = 100_000

// hit is one JSON line of `miner search` output.
type hit struct {
	Nonce uint32 `json:"nonce"`
	Hash  string `json:"hash"`
}

const (
	genesisHeader = hashertest.GenesisHeader
	genesisNonce  = hashertest.GenesisNonce
	genesisHash   = hashertest.GenesisHash
)

// zeroNonce clears the header's nonce (its last 4 bytes), so a search can
// only find the nonce by hashing.
func zeroNonce(t *testing.T, headerHex string) string {
	t.Helper()
	raw, err := hex.DecodeString(headerHex)
	if err != nil || len(raw) != 80 {
		t.Fatalf("header %q: want 80 bytes of hex", headerHex)
	}
	clear(raw[76:])
	return hex.EncodeToString(raw)
}

// search runs `miner search` over [start, start+count), requires a clean exit
// with a summary that counts every nonce, and returns the hits it printed.
func search(t *testing.T, header string, start, count uint64, extra ...string) []hit {
	t.Helper()
	args := append([]string{"search", "--header", header,
		"--start", strconv.FormatUint(start, 10), "--count", strconv.FormatUint(count, 10)}, extra...)
	r := runMiner(t, 30*time.Second, args...)
	if r.code != 0 {
		t.Fatalf("miner %v: exit %d, want 0\nstderr: %s", args, r.code, r.stderr)
	}
	summary := regexp.MustCompile(`searched ` + strconv.FormatUint(count, 10) + ` nonces in [0-9.]+ s: [0-9.]+ ([kMGT])?H/s, \d+ hits`)
	if !summary.MatchString(r.stderr) {
		t.Errorf("stderr %q: want a summary like %q", r.stderr, summary)
	}
	return jsonLines[hit](t, r.stdout)
}

// TestSearchVectors re-mines real Bitcoin headers on every backend this
// machine has: their nonce must come back with their known hash, which ties
// each backend's byte order, midstate and target comparison to the real
// network. CI has the CPU and OpenCL on PoCL; a GPU machine adds CUDA.
func TestSearchVectors(t *testing.T) {
	present := presentBackends(t)
	if testenv.Required("opencl") && !slices.Contains(present, "opencl") {
		t.Errorf("no OpenCL device, but %s promises one", testenv.RequireVar)
	}
	for _, backend := range present {
		t.Run(backend, func(t *testing.T) { searchVectors(t, backend) })
	}
}

// presentBackends asks `miner devices` which backends have a device here.
func presentBackends(t *testing.T) []string {
	t.Helper()
	var present []string
	for _, l := range listDevices(t) {
		if len(l.Devices) > 0 {
			present = append(present, l.Backend)
		} else {
			t.Logf("%s: %s", l.Backend, l.Absent)
		}
	}
	return present
}

func searchVectors(t *testing.T, backend string) {
	// MainnetVectors fails on fewer than 10 vectors or one that does not
	// agree with itself (header, nonce, bits and hash).
	for i, v := range hashertest.MainnetVectors(t) {
		t.Run(strconv.Itoa(v.Height), func(t *testing.T) {
			// Put the nonce at a different place in each range, clipped to the nonce space.
			offset := uint64(i) * 9973 % searchCount
			start := min(uint64(v.Nonce)-min(offset, uint64(v.Nonce)), 1<<32-searchCount)
			if n := uint64(v.Nonce); n < start || n >= start+searchCount {
				t.Fatalf("range [%d, +%d) misses nonce %d", start, searchCount, n)
			}
			hits := search(t, zeroNonce(t, v.HeaderHex), start, searchCount, "--backend", backend)
			if want := (hit{v.Nonce, v.HashHex}); !slices.Contains(hits, want) {
				t.Errorf("hits %+v: want %+v among them", hits, want)
			}
		})
	}
}

// TestSearchGenesis searches around the Bitcoin genesis nonce: the project's
// acceptance check, and the range and target edges where off-by-ones hide.
// The hits are compared exactly: no other nonce in these ranges meets the target.
func TestSearchGenesis(t *testing.T) {
	want := []hit{{genesisNonce, genesisHash}}
	zeroed := zeroNonce(t, genesisHeader)
	tests := []struct {
		name   string
		header string
		start  uint64
		count  uint64
		extra  []string
		want   []hit
	}{
		{"acceptance", zeroed, 2083200000, searchCount, nil, want},
		{"own nonce ignored", genesisHeader, 2083200000, searchCount, nil, want},
		{"nonce first of one", zeroed, genesisNonce, 1, nil, want},
		{"nonce last in range", zeroed, genesisNonce - searchCount + 1, searchCount, nil, want},
		{"range ends before nonce", zeroed, genesisNonce - searchCount, searchCount, nil, nil},
		{"range starts after nonce", zeroed, genesisNonce + 1, searchCount, nil, nil},
		{"end of nonce space", zeroed, 1<<32 - searchCount, searchCount, nil, nil},
		// A hash equal to the target meets it; one below does not.
		{"target equals hash", zeroed, 2083200000, searchCount, []string{"--target", genesisHash}, want},
		{"target just below hash", zeroed, 2083200000, searchCount,
			[]string{"--target", genesisHash[:63] + "e"}, nil},
		// Bits far harder than the header's: the genesis hash no longer meets them.
		{"harder bits", zeroed, 2083200000, searchCount, []string{"--bits", "1b04864c"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := search(t, tt.header, tt.start, tt.count, tt.extra...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("hits %+v, want %+v", got, tt.want)
			}
		})
	}
}
