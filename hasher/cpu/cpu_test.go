package cpu_test

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/hasher/hashertest"
)

// open opens a one-thread device on each path this CPU has; generic first.
func open(t testing.TB) map[string]hasher.Device {
	t.Helper()
	devs := map[string]hasher.Device{}
	for _, impl := range cpu.Available() {
		d, err := cpu.OpenPath(impl)
		if err != nil {
			t.Fatalf("%s: %v", impl, err)
		}
		devs[impl] = d
	}
	if devs[cpu.Generic] == nil {
		t.Fatal("the generic path is not available")
	}
	return devs
}

func search(t testing.TB, d hasher.Device, w *hasher.Work, start, count uint32) []uint32 {
	t.Helper()
	hits, err := d.Search(w, start, count, nil)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(hits)
	return hits
}

// bruteForce lists the nonces of [start, start+count) that meet the
// target, one plain double hash at a time.
func bruteForce(w *hasher.Work, start, count uint32) []uint32 {
	hits := []uint32{}
	for i := range count {
		n := start + i
		if h := hasher.HashHeader(w.WithNonce(n)); hasher.Meets(&h, &w.Target) {
			hits = append(hits, n)
		}
	}
	return hits
}

// The portable path is the reference: it must find exactly what plain
// double hashing finds, on easy random targets whose tails decide ties.
func TestGenericEqualsBruteForce(t *testing.T) {
	d, err := cpu.OpenPath(cpu.Generic)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	total := 0
	for range 30 {
		w := hashertest.RandomWork(rng, 4)
		start := rng.Uint32()
		got, want := search(t, d, &w, start, 3000), bruteForce(&w, start, 3000)
		if !slices.Equal(got, want) {
			t.Fatalf("header %x: generic found %v, plain hashing %v", w.Header, got, want)
		}
		total += len(want)
	}
	if total < 1000 {
		t.Fatalf("only %d hits over the cases: the targets test too little", total)
	}
}

// Every path finds the portable path's hits, nonce for nonce: on random
// headers and targets (from a hit in two to one in 2^12), on odd range
// lengths that end inside a vector, and on ranges that end at 2^32-1.
func TestPathsEqualGeneric(t *testing.T) {
	devs := open(t)
	rng := rand.New(rand.NewPCG(9, 10))
	type rangeCase struct {
		name         string
		start, count uint32
	}
	for impl, d := range devs {
		if impl == cpu.Generic {
			continue
		}
		t.Run(impl, func(t *testing.T) {
			hits := 0
			for i := range 60 {
				w := hashertest.RandomWork(rng, i%12)
				for _, r := range []rangeCase{
					{"random", rng.Uint32(), 1 + rng.Uint32N(2000)},
					{"end of nonce space", 1<<32 - 1000, 1000},
					{"last nonce", 1<<32 - 1, 1},
					{"one", rng.Uint32(), 1},
				} {
					want := search(t, devs[cpu.Generic], &w, r.start, r.count)
					got := search(t, d, &w, r.start, r.count)
					if !slices.Equal(got, want) {
						t.Fatalf("%s [%d, +%d) of %x: %s found %v, generic %v", r.name, r.start, r.count, w.Header, impl, got, want)
					}
					hits += len(want)
				}
			}
			if hits < 100 {
				t.Fatalf("only %d hits: the cases test too little", hits)
			}
		})
	}
}

// A hit at the very last nonce, 2^32-1: the header is chosen so that its
// last nonce's hash sets the target, and every path must report it.
func TestHitAtLastNonce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	w := hashertest.RandomWork(rng, 0)
	w.Target = hasher.HashHeader(w.WithNonce(1<<32 - 1))
	for impl, d := range open(t) {
		hits := search(t, d, &w, 1<<32-64, 64)
		if !slices.Contains(hits, 1<<32-1) {
			t.Errorf("%s: hits %v miss nonce 2^32-1, whose hash is the target", impl, hits)
		}
	}
}

// Real Bitcoin headers: every path finds each block's own nonce in a range
// around it, and nothing else (their targets are hard).
func TestMainnetVectors(t *testing.T) {
	vs := hashertest.MainnetVectors(t)
	for impl, d := range open(t) {
		count := uint32(1 << 14)
		if impl == cpu.Generic {
			count = 1 << 10
		}
		for _, v := range vs {
			start := v.Nonce - min(v.Nonce, count/2)
			if uint64(start)+uint64(count) > 1<<32 {
				start = uint32(1<<32 - uint64(count))
			}
			if hits := search(t, d, &v.Work, start, count); !slices.Equal(hits, []uint32{v.Nonce}) {
				t.Errorf("%s: block %d: hits %v, want [%d]", impl, v.Height, hits, v.Nonce)
			}
		}
	}
}

func TestGenesis(t *testing.T) {
	w := hashertest.GenesisWork(t)
	for impl, d := range open(t) {
		if hits := search(t, d, &w, hashertest.GenesisNonce-300, 600); !slices.Equal(hits, []uint32{hashertest.GenesisNonce}) {
			t.Errorf("%s: hits %v, want [%d]", impl, hits, uint32(hashertest.GenesisNonce))
		}
	}
}

func TestNewImplRefusals(t *testing.T) {
	if _, err := cpu.NewImpl(1, "sse9"); err == nil || !strings.Contains(err.Error(), "want one of auto") {
		t.Errorf("unknown path: err = %v", err)
	}
	for _, impl := range cpu.Impls() {
		_, err := cpu.NewImpl(1, impl)
		if has := impl == cpu.Auto || slices.Contains(cpu.Available(), impl); has != (err == nil) {
			t.Errorf("NewImpl(%s): err = %v, available %v", impl, err, cpu.Available())
		}
		if err != nil && !strings.Contains(err.Error(), "this CPU lacks") {
			t.Errorf("NewImpl(%s): %v does not say what the CPU lacks", impl, err)
		}
	}
	// The device says which path it runs.
	b := cpu.New(1)
	infos, _ := b.List()
	if len(infos) != 1 || !slices.Contains(cpu.Available(), infos[0].Impl) {
		t.Errorf("List() = %+v, want one device naming an available path", infos)
	}
}

// FuzzPaths compares every path with the portable one on any header,
// target and range.
func FuzzPaths(f *testing.F) {
	f.Add(make([]byte, 80), make([]byte, 32), uint32(0), uint16(100))
	f.Add(make([]byte, 80), []byte{31: 0x7f}, uint32(1<<32-17), uint16(17))
	devs := open(f)
	f.Fuzz(func(t *testing.T, header, target []byte, start uint32, count uint16) {
		var w hasher.Work
		copy(w.Header[:], header)
		copy(w.Target[:], target)
		// An easy target (top byte 0x7f..) keeps hits frequent.
		if len(target) < 32 {
			binary.LittleEndian.PutUint32(w.Target[28:], 0x7fffffff>>(len(target)%8))
		}
		n := uint32(count%512) + 1
		if uint64(start)+uint64(n) > 1<<32 {
			start = uint32(1<<32 - uint64(n))
		}
		want := search(t, devs[cpu.Generic], &w, start, n)
		for impl, d := range devs {
			if got := search(t, d, &w, start, n); !slices.Equal(got, want) {
				t.Fatalf("%s found %v, generic %v", impl, got, want)
			}
		}
	})
}

// Search allocates nothing per range beyond the hits it returns.
func TestSearchAllocatesNothing(t *testing.T) {
	for impl, d := range open(t) {
		var w hasher.Work
		hits := make([]uint32, 0, 16)
		if a := testing.AllocsPerRun(20, func() { d.Search(&w, 0, 4096, hits[:0]) }); a != 0 {
			t.Errorf("%s: %.0f allocations per range", impl, a)
		}
	}
}
