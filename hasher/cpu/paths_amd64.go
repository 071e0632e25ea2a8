//go:build !purego

package cpu

import (
	"golang.org/x/sys/cpu"

	"github.com/hashforge/hashforge/hasher/cpu/internal/sha256d"
)

const (
	avx512ID = iota + 1
	avx2ID
	shaniID
)

func assemblyPaths() []*path {
	return []*path{
		{name: "avx512", width: 16, id: avx512ID, missing: func() []string {
			return lacks(feature{cpu.X86.HasAVX512F, "AVX-512F"}, feature{cpu.X86.HasAVX512BW, "AVX-512BW"})
		}},
		{name: "avx2", width: 8, id: avx2ID, missing: func() []string {
			return lacks(feature{cpu.X86.HasAVX2, "AVX2"})
		}},
		{name: "shani", width: 2, id: shaniID, missing: func() []string {
			return lacks(feature{hasSHA(), "SHA-NI"}, feature{cpu.X86.HasSSE41, "SSE4.1"}, feature{cpu.X86.HasSSSE3, "SSSE3"})
		}},
	}
}

// scanAssembly runs the assembly path id; the assembly reads the job from
// its first word on (sha256d.Job is all 32-bit words).
func scanAssembly(id int, j *sha256d.Job, nonce uint32, groups int) (int, uint32) {
	switch id {
	case avx512ID:
		return scanAVX512(&j.Mid[0], nonce, groups)
	case avx2ID:
		return scanAVX2(&j.Mid[0], nonce, groups)
	case shaniID:
		return scanSHANI(&j.Mid[0], nonce, groups)
	}
	panic("cpu: no assembly path has this id")
}

// feature is a CPU feature a path needs: whether this CPU has it, and its name.
type feature struct {
	has  bool
	name string
}

// lacks returns the names of the features this CPU does not have.
func lacks(fs ...feature) []string {
	var out []string
	for _, f := range fs {
		if !f.has {
			out = append(out, f.name)
		}
	}
	return out
}
