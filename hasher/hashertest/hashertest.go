// Package hashertest holds what the hasher backends' tests share: real
// Bitcoin headers as work, the Bitcoin genesis work, random work with easy
// targets, and the CPU backend's hits as the reference every other backend
// must match exactly. Only tests import it.
package hashertest

import (
	"context"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/kernels"
)

// The Bitcoin genesis block: its header (nonce included), nonce and hash as
// block explorers show it.
const (
	GenesisHeader = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
	GenesisNonce  = 2083236893
	GenesisHash   = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
)

// GenesisWork is the genesis header with its nonce zeroed, so only hashing
// finds it, and the target of its bits, 1d00ffff.
func GenesisWork(t testing.TB) hasher.Work {
	t.Helper()
	raw, err := hex.DecodeString(GenesisHeader)
	if err != nil {
		t.Fatal(err)
	}
	var w hasher.Work
	copy(w.Header[:], raw)
	w.Header = w.WithNonce(0)
	w.Target = targetOf(0x1d00ffff)
	return w
}

// targetOf expands compact bits into a target as Work holds it. The package
// keeps its own expansion so the hasher's tests need no chain: bits here are
// positive with an exponent of 3 or more, as every real header's are.
func targetOf(bits uint32) [32]byte {
	n := big.NewInt(int64(bits & 0x007fffff))
	return littleEndian(n.Lsh(n, 8*(uint(bits>>24)-3)))
}

// littleEndian writes n, below 2^256, in Work.Target's byte order.
func littleEndian(n *big.Int) [32]byte {
	var t [32]byte
	n.FillBytes(t[:])
	slices.Reverse(t[:])
	return t
}

// displayHex writes a hash as block explorers show it: byte-reversed hex.
func displayHex(hash [32]byte) string {
	slices.Reverse(hash[:])
	return hex.EncodeToString(hash[:])
}

// mainnetHeaders are real Bitcoin headers with what block explorers show of
// them. chain/testdata holds the same file for the chain's own tests: the
// headers are history, so the two copies cannot drift apart.
//
//go:embed testdata/bitcoin-mainnet-headers.json
var mainnetHeaders []byte

// Vector is a real Bitcoin mainnet header.
type Vector struct {
	Height    int    `json:"height"`
	HeaderHex string `json:"header_hex"` // nonce included
	Nonce     uint32 `json:"nonce"`
	BitsHex   string `json:"bits_hex"`
	HashHex   string `json:"hash_hex"`

	// Work is the header with its nonce zeroed and the target of its bits:
	// searching a range that holds Nonce must find it.
	Work hasher.Work `json:"-"`
}

// MainnetVectors returns the package's mainnet headers as vectors. Each
// vector must agree with itself (its header carries its nonce and bits and
// hashes to its hash), or a search for its nonce would test nothing.
func MainnetVectors(t testing.TB) []Vector {
	t.Helper()
	var vs []Vector
	if err := json.Unmarshal(mainnetHeaders, &vs); err != nil {
		t.Fatalf("parse vectors: %v", err)
	}
	// An empty or truncated file must not pass as "every vector matched".
	if len(vs) < 10 {
		t.Fatalf("%d vectors, want at least 10", len(vs))
	}
	for i := range vs {
		v := &vs[i]
		header, err := hex.DecodeString(v.HeaderHex)
		if err != nil || len(header) != hasher.HeaderSize {
			t.Fatalf("height %d: header %q: want %d bytes of hex (%v)", v.Height, v.HeaderHex, hasher.HeaderSize, err)
		}
		bits, err := strconv.ParseUint(v.BitsHex, 16, 32)
		if err != nil {
			t.Fatalf("height %d: bits %q: %v", v.Height, v.BitsHex, err)
		}
		copy(v.Work.Header[:], header)
		if binary.LittleEndian.Uint32(header[76:]) != v.Nonce || binary.LittleEndian.Uint32(header[72:76]) != uint32(bits) {
			t.Fatalf("height %d: header %s does not carry nonce %d and bits %s", v.Height, v.HeaderHex, v.Nonce, v.BitsHex)
		}
		if got := displayHex(hasher.HashHeader(v.Work.Header)); got != v.HashHex {
			t.Fatalf("height %d: testdata hash %s, header hashes to %s", v.Height, v.HashHex, got)
		}
		v.Work.Header = v.Work.WithNonce(0)
		v.Work.Target = targetOf(uint32(bits))
	}
	return vs
}

// EasyTarget is 2^(256-bits) - 1: about one hash in 2^bits meets it.
func EasyTarget(bits int) [32]byte {
	n := new(big.Int).Lsh(big.NewInt(1), uint(256-bits))
	return littleEndian(n.Sub(n, big.NewInt(1)))
}

// EasyWork is a random header with EasyTarget(bits).
func EasyWork(rng *rand.Rand, bits int) hasher.Work {
	var w hasher.Work
	for i := range w.Header {
		w.Header[i] = byte(rng.Uint32())
	}
	w.Target = EasyTarget(bits)
	return w
}

// RandomWork is a random header with a random target whose top zeroBits bits
// are clear: about one nonce in 2^(zeroBits+1) meets it. Unlike EasyWork's
// all-ones tail, the random tail makes the comparison below the top word
// decide for hashes that tie there.
func RandomWork(rng *rand.Rand, zeroBits int) hasher.Work {
	var w hasher.Work
	for i := range w.Header {
		w.Header[i] = byte(rng.Uint32())
	}
	for i := range w.Target {
		w.Target[i] = byte(rng.Uint32())
	}
	for b := range zeroBits {
		w.Target[31-b/8] &^= 0x80 >> (b % 8)
	}
	return w
}

// Hits returns the device's hits for the range, sorted: GPU kernels report
// them in whatever order their threads finish.
func Hits(t testing.TB, d hasher.Device, w *hasher.Work, start, count uint32) []uint32 {
	t.Helper()
	hits, err := d.Search(w, start, count, nil)
	if err != nil {
		t.Fatalf("Search(%d, %d): %v", start, count, err)
	}
	slices.Sort(hits)
	return hits
}

// CPUHits returns the CPU backend's hits for the range, sorted: the
// reference the other backends must match. It searches chunks on every core,
// so a reference for millions of nonces stays quick.
func CPUHits(t testing.TB, w *hasher.Work, start, count uint32) []uint32 {
	t.Helper()
	devs, err := hasher.OpenAll(cpu.New(2))
	if err != nil {
		t.Fatal(err)
	}
	dev := devs[0]
	const chunk = 1 << 16
	end := uint64(start) + uint64(count)
	n := (uint64(count) + chunk - 1) / chunk
	hits := make([][]uint32, n)
	errs := make([]error, n)
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i := range n {
		s := uint64(start) + i*chunk
		c := min(chunk, end-s)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			hits[i], errs[i] = dev.Search(w, uint32(s), uint32(c), nil)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	all := []uint32{}
	for _, h := range hits {
		all = append(all, h...)
	}
	slices.Sort(all)
	return all
}

// SearchRange runs s over [start, start+count) of w to completion and
// returns the nonces of its hits, sorted, and the job's error; it fails the
// test if the search takes longer than timeout.
func SearchRange(t testing.TB, s *hasher.Scheduler, w hasher.Work, start, count uint64, timeout time.Duration) ([]uint32, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var mu sync.Mutex
	var hits []uint32
	err := s.SearchRange(ctx, w, start, count, func(h hasher.Hit) {
		mu.Lock()
		hits = append(hits, h.Nonce)
		mu.Unlock()
	})
	if ctx.Err() != nil {
		t.Fatalf("search of nonces [%d, +%d) did not finish in %v", start, count, timeout)
	}
	slices.Sort(hits)
	return hits, err
}

// RegtestTarget is regtest's target (bits 207fffff, fixed by the network):
// about half of all nonces meet it.
func RegtestTarget() [32]byte { return targetOf(0x207fffff) }

// LastNonceWork is a random header whose target is the hash of its nonce
// 2^32-1: that nonce is a hit (and almost surely the only one near it), so a
// search that drops the last nonce of the space fails.
func LastNonceWork(rng *rand.Rand) hasher.Work {
	w := RandomWork(rng, 0)
	w.Target = hasher.HashHeader(w.WithNonce(1<<32 - 1))
	return w
}

// CheckEasyTarget searches 2^20 nonces of regtest-target work through
// hasher.SearchGPU with launch, a GPU device's: there must be exactly the
// CPU's hits, about half a million, in at most two launches.
func CheckEasyTarget(t *testing.T, launch hasher.Launch, out []uint32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(13, 14))
	w := RandomWork(rng, 0)
	w.Target = RegtestTarget()
	const count = 1 << 20
	start := rng.Uint32N(1<<32 - count)
	launches := 0
	counted := func(job *kernels.Job, out []uint32) (uint32, error) {
		launches++
		return launch(job, out)
	}
	got, err := hasher.SearchGPU(counted, out, &w, start, count, nil)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := CPUHits(t, &w, start, count)
	if !slices.Equal(got, want) {
		t.Errorf("device found %d hits, CPU %d", len(got), len(want))
	}
	if launches > 2 {
		t.Errorf("%d launches for %d nonces, want at most 2", launches, count)
	}
	t.Logf("%d hits in %d launches", len(got), launches)
}
