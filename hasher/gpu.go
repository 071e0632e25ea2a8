package hasher

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/hashforge/hashforge/kernels"
)

// Launch runs the search kernel once over job's nonces and returns how many
// hits it counted, with the first min(hits, kernels.ResultCap) of them
// copied into out (kernels.ResultCap words): only the hits cross the bus.
type Launch func(job *kernels.Job, out []uint32) (hits uint32, err error)

// SearchGPU is Search for a GPU device whose kernel is run by launch; out is
// the device's host buffer of kernels.ResultCap words. The kernel checks the
// whole target, so what it reports are hits; the scheduler hashes each once
// more on the CPU before anyone uses it. Launches are sized so that the hits
// the target leads one to expect fill at most half the result list (an easy
// target, such as regtest's where half of all nonces are hits, gets
// launches of about a million nonces); a launch that still overflows is
// searched again in halves, so no hit is lost.
func SearchGPU(launch Launch, out []uint32, w *Work, start, count uint32, hits []uint32) ([]uint32, error) {
	if len(out) < kernels.ResultCap {
		return hits, fmt.Errorf("result buffer of %d words, want %d", len(out), kernels.ResultCap)
	}
	step := launchNonces(&w.Target)
	for done := uint64(0); done < uint64(count); done += step {
		var err error
		n := uint32(min(step, uint64(count)-done))
		if hits, err = searchGPU(launch, out, w, start+uint32(done), n, hits); err != nil {
			return hits, err
		}
	}
	return hits, nil
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

func searchGPU(launch Launch, out []uint32, w *Work, start, count uint32, hits []uint32) ([]uint32, error) {
	job := kernels.NewJob(&w.Header, &w.Target, start, count)
	n, err := launch(&job, out)
	if err != nil {
		return hits, err
	}
	if n > count {
		return hits, fmt.Errorf("kernel counted %d hits in a launch of %d nonces: the device computes wrong results", n, count)
	}
	if n > kernels.ResultCap && count > 1 {
		half := count / 2
		if hits, err = searchGPU(launch, out, w, start, half, hits); err != nil {
			return hits, err
		}
		return searchGPU(launch, out, w, start+half, count-half, hits)
	}
	for _, nonce := range out[:min(n, kernels.ResultCap)] {
		if nonce-start >= count {
			return hits, fmt.Errorf("kernel reported nonce %d, outside its launch [%d, +%d): the device computes wrong results", nonce, start, count)
		}
		hits = append(hits, nonce)
	}
	return hits, nil
}
