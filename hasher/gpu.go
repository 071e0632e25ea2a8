package hasher

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/hashforge/hashforge/kernels"
)

// Launch runs the search kernel once over job's nonces and returns how many
// hits it counted, with the first min(hits, kernels.ResultCap) of them
// copied into out: only the hits cross the bus. SearchGPU, its one caller,
// has checked that out holds kernels.ResultCap words.
type Launch func(job *kernels.Job, out []uint32) (hits uint32, err error)

// SearchGPU is Search for a GPU device whose kernel is run by launch; out is
// the device's host buffer of kernels.ResultCap words. The kernel checks the
// whole target, so what it reports are hits; the scheduler hashes each once
// more on the CPU before anyone uses it. Launches are sized so that the hits
// the target leads one to expect fill at most half the result list (an easy
// target, such as regtest's where half of all nonces are hits, gets
// launches of about a million nonces); a launch that still overflows is
// searched again in halves, so no hit is lost. A search stops once it holds
// kernels.ResultCap hits, with a *TooManyHitsError: a miner needs one, and
// listing half of a billion nonces would take the CPU longer than finding
// them took the GPU.
func SearchGPU(launch Launch, out []uint32, w *Work, start, count uint32, hits []uint32) ([]uint32, error) {
	if len(out) < kernels.ResultCap {
		return hits, fmt.Errorf("result buffer of %d words, want %d", len(out), kernels.ResultCap)
	}
	g := &gpuSearch{launch: launch, out: out, w: w, hits: hits, base: len(hits)}
	step := launchNonces(&w.Target)
	for done := uint64(0); done < uint64(count); done += step {
		err := g.run(start+uint32(done), uint32(min(step, uint64(count)-done)))
		if errors.Is(err, errFull) {
			return g.hits, &TooManyHitsError{Hits: len(g.hits) - g.base, Searched: g.searched, Count: count}
		}
		if err != nil {
			return g.hits, err
		}
	}
	return g.hits, nil
}

// errFull stops a gpuSearch that holds kernels.ResultCap hits.
var errFull = errors.New("hit list full")

// TooManyHitsError ends a search that found kernels.ResultCap hits before
// its range was done: its hits are good, Searched nonces of the range were
// searched, the rest were not.
type TooManyHitsError struct {
	Hits     int
	Searched uint64
	Count    uint32
}

func (e *TooManyHitsError) Error() string {
	return fmt.Sprintf("%d hits in the first %d of %d nonces: the target is too easy to list every hit", e.Hits, e.Searched, e.Count)
}

// gpuSearch is one SearchGPU in progress.
type gpuSearch struct {
	launch   Launch
	out      []uint32
	w        *Work
	hits     []uint32
	base     int    // hits there were before the search
	searched uint64 // nonces searched so far
}

// launchNonces is how many nonces one launch may search: all of a range
// unless the target is so easy that the hits expected in it, nonces times
// (target+1)/2^256, would fill more than half the result list.
func launchNonces(target *[32]byte) uint64 {
	// The target's top 64 bits bound the chance of a hit from above.
	top := float64(binary.LittleEndian.Uint64(target[24:]))
	p := (top + 1) / math.Exp2(64)
	return uint64(max(1, min(float64(NonceSpace), float64(kernels.ResultCap/2)/p)))
}

// run searches [start, start+count) in one launch, or in halves when that
// launch overflows the result list.
func (g *gpuSearch) run(start, count uint32) error {
	if len(g.hits)-g.base >= kernels.ResultCap {
		return errFull
	}
	job := kernels.NewJob(&g.w.Header, &g.w.Target, start, count)
	n, err := g.launch(&job, g.out)
	if err != nil {
		return err
	}
	if n > count {
		return fmt.Errorf("kernel counted %d hits in a launch of %d nonces: the device computes wrong results", n, count)
	}
	if n > kernels.ResultCap && count > 1 {
		half := count / 2
		if err := g.run(start, half); err != nil {
			return err
		}
		return g.run(start+half, count-half)
	}
	for _, nonce := range g.out[:min(n, kernels.ResultCap)] {
		if nonce-start >= count {
			return fmt.Errorf("kernel reported nonce %d, outside its launch [%d, +%d): the device computes wrong results", nonce, start, count)
		}
		g.hits = append(g.hits, nonce)
	}
	g.searched += uint64(count)
	return nil
}

// Shape is how a GPU launch is laid out: threads per block (CUDA) or per
// work-group (OpenCL), and the nonces each thread searches one after
// another. Zero fields keep the backend's own choice. It is a tuning knob:
// the best shape depends on the card (scripts/gpu-check sweeps it).
type Shape struct {
	Threads int // a power of two, 32 to 256 (the kernel's launch bound)
	Nonces  int // 1 to kernels.MaxNoncesPerThread
}

// GPUOptions are how a GPU backend sizes and lays out its launches: the
// user's --intensity, --gpu-threads and --gpu-nonces, checked by the caller.
type GPUOptions struct {
	// Intensity 0 leaves each launch's size to the scheduler, which tunes
	// it toward 100 ms; otherwise every launch is 2^Intensity nonces.
	Intensity int
	Shape     Shape
}

// LaunchIntensity is a GPU backend's intensity as it sizes launches: 0 or
// less leaves the size to the scheduler (0); anything else is held within
// MinIntensity and MaxIntensity.
func LaunchIntensity(intensity int) int {
	if intensity <= 0 {
		return 0
	}
	return min(max(intensity, MinIntensity), MaxIntensity)
}

// Check says what is wrong with a shape, if anything.
func (s Shape) Check() error {
	if s.Threads != 0 && (s.Threads < 32 || s.Threads > 256 || s.Threads&(s.Threads-1) != 0) {
		return fmt.Errorf("threads per block %d: want a power of two from 32 to 256", s.Threads)
	}
	if s.Nonces < 0 || s.Nonces > kernels.MaxNoncesPerThread {
		return fmt.Errorf("nonces per thread %d: want 1 to %d", s.Nonces, kernels.MaxNoncesPerThread)
	}
	return nil
}
