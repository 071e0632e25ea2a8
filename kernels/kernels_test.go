package kernels

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// kernelTop mirrors sha256d_core.h on the job words: rounds 3-63 of the
// header's second block from the precomputed state, then rounds 0-60 of the
// second hash. It returns the first hash and the value the kernel compares
// with the target's top word.
func kernelTop(j *Job, nonce uint32) (first [8]uint32, top uint32) {
	block := [16]uint32{j[jobW], j[jobW+1], j[jobW+2], bits.ReverseBytes32(nonce), 0x80000000, 15: 640}
	w := Schedule(&block)
	if w[16] != j[jobW16] || w[17] != j[jobW17] {
		panic("job words 16 and 17 are not the schedule's")
	}
	var s [8]uint32
	copy(s[:], j[jobState3:jobState3+8])
	for i := 3; i < 64; i++ {
		Round(&s, K[i]+w[i])
	}
	for i := range first {
		first[i] = j[jobMid+i] + s[i]
	}

	block = [16]uint32{8: 0x80000000, 15: 256}
	copy(block[:], first[:])
	w = Schedule(&block)
	s = IV
	for i := 0; i < 61; i++ {
		Round(&s, K[i]+w[i])
	}
	// After round 60 the word that ends as h is e; rounds 61-63 only move it.
	return first, bits.ReverseBytes32(s[4] + IV[7])
}

func TestJobReproducesSHA256d(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		var header [80]byte
		for i := range header {
			header[i] = byte(rng.Uint32())
		}
		var target [32]byte
		target[29] = 0x12
		start := rng.Uint32()
		j := NewJob(&header, &target, start, 1000)
		if j[jobTarget+7] != 0x1200 || j[jobStart] != start || j.Count() != 1000 {
			t.Fatalf("job target top/start/count = %#x %d %d", j[jobTarget+7], j[jobStart], j.Count())
		}
		nonce := start + uint32(rng.IntN(1000))
		binary.LittleEndian.PutUint32(header[76:], nonce)
		h1 := sha256.Sum256(header[:])
		h2 := sha256.Sum256(h1[:])

		first, top := kernelTop(&j, nonce)
		for i := range first {
			if got := binary.BigEndian.Uint32(h1[4*i:]); got != first[i] {
				t.Fatalf("first hash word %d = %08x, want %08x", i, first[i], got)
			}
		}
		if want := binary.LittleEndian.Uint32(h2[28:]); top != want {
			t.Fatalf("top word %08x, want %08x", top, want)
		}
	}
}

// The header and the Go side agree on the job's layout and the result list.
func TestLayoutMatchesCore(t *testing.T) {
	for name, want := range map[string]int{
		"HF_JOB_TARGET": jobTarget, "HF_JOB_START": jobStart, "HF_JOB_COUNT": jobCount, "HF_JOB_NONCES": jobNonces,
		"HF_RESULT_CAP": ResultCap,
	} {
		m := regexp.MustCompile(`#define ` + name + `\s+(\d+)\b`).FindStringSubmatch(core)
		if m == nil || m[1] != strconv.Itoa(want) {
			t.Errorf("sha256d_core.h defines %s as %v, want %d", name, m, want)
		}
	}
}

func TestOpenCLSourceInlinesCore(t *testing.T) {
	src := OpenCLSource()
	if strings.Contains(src, "#include") || !strings.Contains(src, KernelName) {
		t.Fatal("OpenCL source does not carry the core inline")
	}
	if !strings.Contains(PTX, ".entry "+KernelName) {
		t.Fatalf("PTX has no entry %s", KernelName)
	}
}
