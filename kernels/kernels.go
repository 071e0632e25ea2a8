// Package kernels holds the GPU SHA-256d search kernel: one core
// (sha256d_core.h) included by the OpenCL C and CUDA C entries, the PTX that
// clang generates from the CUDA entry (make kernels), and the host-side
// precomputation of each job's words.
package kernels

import (
	_ "embed"
	"encoding/binary"
	"math/bits"
	"strings"
)

//go:embed sha256d_core.h
var core string

//go:embed sha256d.cl
var openCL string

// PTX is sha256d.cu compiled for the oldest GPUs supported; the CUDA driver
// compiles it for the device at load time, so no CUDA toolkit is needed.
//
//go:embed sha256d.ptx
var PTX string

// PTX80 is sha256d.cu compiled for sm_80 (Ampere) and newer, in the PTX ISA
// of CUDA 11: a driver that takes it compiles the kernel with what it
// knows of current GPUs.
//
//go:embed sha256d_sm80.ptx
var PTX80 string

// Program is one PTX of the kernel and the oldest GPUs it runs on.
type Program struct {
	Arch     string // "sm_80"
	MinMajor int    // compute capability major it needs
	PTX      string
}

// Programs lists the kernel's PTX, newest first: a device loads the first
// its compute capability allows and its driver accepts.
var Programs = []Program{{"sm_80", 8, PTX80}, {"sm_50", 5, PTX}}

// KernelName is the entry point in both kernels.
const KernelName = "sha256d_search"

// Sizes shared with sha256d_core.h.
const (
	JobWords = 32 // words in a job
	// ResultCap is how many hits a launch can report; out[0] counts them
	// all. Hosts size launches so that the hits they expect fill at most
	// half of it.
	ResultCap   = 1<<20 - 1
	ResultWords = 1 + ResultCap
	// NoncesPerThread is how many nonces each GPU thread searches unless
	// the job says otherwise (SetNoncesPerThread): a launch-shape knob.
	NoncesPerThread = 8
	// MaxNoncesPerThread bounds it.
	MaxNoncesPerThread = 64
)

// OpenCLSource returns the OpenCL program: the entry with the core inlined,
// since an embedded program has no include path.
func OpenCLSource() string {
	return strings.Replace(openCL, `#include "sha256d_core.h"`, core, 1)
}

// Job is the words one launch reads, in the layout of sha256d_core.h.
type Job [JobWords]uint32

const (
	jobMid    = 0
	jobState3 = 8
	jobW      = 16
	jobW16    = 19
	jobW17    = 20
	jobTarget = 21
	jobStart  = 29
	jobCount  = 30
	jobNonces = 31
)

// Count is the number of nonces the job's launch searches.
func (j *Job) Count() uint32 { return j[jobCount] }

// SetNoncesPerThread sets how many of them each thread searches, within 1
// and MaxNoncesPerThread.
func (j *Job) SetNoncesPerThread(n uint32) { j[jobNonces] = min(max(n, 1), MaxNoncesPerThread) }

// NewJob precomputes what no nonce changes: the SHA-256 state after the
// header's first 64 bytes, rounds 0-2 of the second block (they see only the
// merkle tail, time and bits), and schedule words 16 and 17. target is a
// little-endian 256-bit number.
func NewJob(header *[80]byte, target *[32]byte, start, count uint32) Job {
	var j Job
	mid := IV
	var w [16]uint32
	for i := range w {
		w[i] = binary.BigEndian.Uint32(header[4*i:])
	}
	Compress(&mid, &w)
	copy(j[jobMid:], mid[:])

	w0 := binary.BigEndian.Uint32(header[64:])
	w1 := binary.BigEndian.Uint32(header[68:])
	w2 := binary.BigEndian.Uint32(header[72:])
	st := mid
	for i, wi := range []uint32{w0, w1, w2} {
		Round(&st, K[i]+wi)
	}
	copy(j[jobState3:], st[:])
	j[jobW], j[jobW+1], j[jobW+2] = w0, w1, w2
	// w16 = s1(w14) + w9 + s0(w1) + w0 and w17 = s1(w15) + w10 + s0(w2) + w1,
	// with w9, w10, w14 zero padding and w15 the length, 640 bits.
	j[jobW16] = Sigma0(w1) + w0
	j[jobW17] = Sigma1(640) + Sigma0(w2) + w1
	for i := range 8 {
		j[jobTarget+i] = binary.LittleEndian.Uint32(target[4*i:])
	}
	j[jobStart] = start
	j[jobCount] = count
	j[jobNonces] = NoncesPerThread
	return j
}

// SHA-256's functions and constants: the host side of the GPU kernel and
// the CPU backend's plan (hasher/cpu) both compute with them.

// IV is SHA-256's initial state.
var IV = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// K holds SHA-256's round constants.
var K = [64]uint32{
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

// Sigma0 and Sigma1 are the message schedule's small sigmas; Sum0 and
// Sum1 the rounds' big ones.
func Sigma0(x uint32) uint32 { return bits.RotateLeft32(x, -7) ^ bits.RotateLeft32(x, -18) ^ x>>3 }
func Sigma1(x uint32) uint32 { return bits.RotateLeft32(x, -17) ^ bits.RotateLeft32(x, -19) ^ x>>10 }
func Sum0(x uint32) uint32 {
	return bits.RotateLeft32(x, -2) ^ bits.RotateLeft32(x, -13) ^ bits.RotateLeft32(x, -22)
}
func Sum1(x uint32) uint32 {
	return bits.RotateLeft32(x, -6) ^ bits.RotateLeft32(x, -11) ^ bits.RotateLeft32(x, -25)
}

// Round runs one SHA-256 round on s with kw = K[t] + W[t].
func Round(s *[8]uint32, kw uint32) {
	a, b, c, d, e, f, g, h := s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
	t1 := h + Sum1(e) + (e&f ^ ^e&g) + kw
	t2 := Sum0(a) + (a&b ^ a&c ^ b&c)
	*s = [8]uint32{t1 + t2, a, b, c, d + t1, e, f, g}
}

// Schedule expands a block into its 64 message words.
func Schedule(block *[16]uint32) [64]uint32 {
	var w [64]uint32
	copy(w[:], block[:])
	for t := 16; t < 64; t++ {
		w[t] = Sigma1(w[t-2]) + w[t-7] + Sigma0(w[t-15]) + w[t-16]
	}
	return w
}

// Compress runs the SHA-256 compression of one block into state.
func Compress(state *[8]uint32, block *[16]uint32) {
	w := Schedule(block)
	s := *state
	for t := range w {
		Round(&s, K[t]+w[t])
	}
	for i := range s {
		state[i] += s[i]
	}
}
