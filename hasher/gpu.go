package hasher

import (
	"encoding/binary"
	"fmt"

	"github.com/hashforge/hashforge/kernels"
)

// Launch runs the search kernel once: it writes job to the device, clears
// the survivor count, runs the kernel over job's nonces and reads the result
// words (kernels.ResultWords of them) into out.
type Launch func(job *kernels.Job, out []uint32) error

// SearchGPU is Search for a GPU device whose kernel is run by launch. The
// kernel reports survivors of an early test on the hash's top word; here each
// is hashed again on the CPU: those that meet the whole target are hits, and
// one whose top word does not pass the test the kernel applied means the
// device computes wrong hashes. A launch with more survivors than the result
// list holds (a very easy target) is searched again in halves, so no hit is
// lost.
func SearchGPU(launch Launch, w *Work, start, count uint32, hits []uint32) ([]uint32, error) {
	out := make([]uint32, kernels.ResultWords)
	return searchGPU(launch, w, start, count, hits, out)
}

func searchGPU(launch Launch, w *Work, start, count uint32, hits, out []uint32) ([]uint32, error) {
	job := kernels.NewJob(&w.Header, &w.Target, start, count)
	if err := launch(&job, out); err != nil {
		return hits, err
	}
	survivors := out[0]
	if survivors > kernels.ResultCap && count > 1 {
		half := count / 2
		hits, err := searchGPU(launch, w, start, half, hits, out)
		if err != nil {
			return hits, err
		}
		return searchGPU(launch, w, start+half, count-half, hits, out)
	}
	top := binary.LittleEndian.Uint32(w.Target[28:])
	for _, nonce := range out[1 : 1+min(survivors, kernels.ResultCap)] {
		hash := HashHeader(w.WithNonce(nonce))
		if nonce-start >= count || binary.LittleEndian.Uint32(hash[28:]) > top {
			return hits, fmt.Errorf("kernel reported nonce %d, outside the launch or failing the kernel's own test: the device computes wrong hashes", nonce)
		}
		if Meets(&hash, &w.Target) {
			hits = append(hits, nonce)
		}
	}
	return hits, nil
}
