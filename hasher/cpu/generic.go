package cpu

import (
	"math/bits"

	"github.com/hashforge/hashforge/hasher/cpu/internal/sha256d"
)

// The portable path, lastWord, is generated with the assembly
// (sha256d_generic.go): it runs everywhere, arm64 included, and is the
// reference the other paths are tested against.

// scanGeneric is the portable path's scan, one nonce per group.
func scanGeneric(j *sha256d.Job, nonce uint32, groups int) (done int, mask uint32) {
	for done < groups {
		top := lastWord(j, nonce+uint32(done))
		done++
		if bits.ReverseBytes32(top) <= j.Target {
			return done, 1
		}
	}
	return done, 0
}
