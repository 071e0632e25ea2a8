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
			return lacks(cpu.X86.HasAVX512F, "AVX-512F", cpu.X86.HasAVX512BW, "AVX-512BW")
		}},
		{name: "avx2", width: 8, id: avx2ID, missing: func() []string {
			return lacks(cpu.X86.HasAVX2, "AVX2")
		}},
		{name: "shani", width: 2, id: shaniID, missing: func() []string {
			return lacks(hasSHA(), "SHA-NI", cpu.X86.HasSSE41, "SSE4.1", cpu.X86.HasSSSE3, "SSSE3")
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

// lacks returns the names of the features whose flag is false, given as
// flag, name pairs.
func lacks(pairs ...any) []string {
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		if !pairs[i].(bool) {
			out = append(out, pairs[i+1].(string))
		}
	}
	return out
}
