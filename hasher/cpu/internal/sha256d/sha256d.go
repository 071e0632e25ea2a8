// Package sha256d plans the double SHA-256 of a block header for a nonce
// search: what every nonce of one header shares is computed once per job
// (Prepare), and what is left is described word by word (Plan) so that the
// portable path and the assembly generator (../../_asm) follow the same
// plan. A header's second block has one word that varies (the nonce, word
// 3) and a run of zero padding; the second hash has eight varying words and
// fixed padding. Every schedule word is then fixed, or varying with a fixed
// part that can be added once per job, and every round whose word is fixed
// needs one constant, K[t]+W[t].
package sha256d

import (
	"encoding/binary"
	"math/bits"
)

// Word kinds of a message schedule.
const (
	Zero    = iota // always zero: contributes nothing
	Fixed          // the same for every nonce of a job
	Varying        // depends on the nonce
)

// Source is one of the four terms of schedule word t >= 16:
// s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16].
type Source struct {
	Word  int // the word the term reads
	Sigma int // 0: the word itself, 1: s0 of it, 2: s1 of it
}

// Block is the plan of one compression: which words are fixed, which vary,
// and the rounds it runs.
type Block struct {
	Kind [64]int
	// Needed[t]: a later schedule word of this block reads W[t]. A varying
	// word nobody reads again has its fixed part folded into KW.
	Needed [64]bool
	// Last is the last round run: 63 for the first hash, 60 for the
	// second, whose last word is final after round 60.
	Last int
}

// Sources returns the terms of schedule word t (16 <= t < 64).
func Sources(t int) [4]Source {
	return [4]Source{{t - 2, 2}, {t - 7, 0}, {t - 15, 1}, {t - 16, 0}}
}

func newBlock(kinds [16]int, last int) Block {
	b := Block{Last: last}
	copy(b.Kind[:], kinds[:])
	for t := 16; t < 64; t++ {
		// A term is zero, fixed or varying as its word is (s0(0) = s1(0) = 0).
		for _, s := range Sources(t) {
			b.Kind[t] = max(b.Kind[t], b.Kind[s.Word])
		}
	}
	for t := 16; t <= last; t++ {
		for _, s := range Sources(t) {
			b.Needed[s.Word] = true
		}
	}
	return b
}

// First is the header's second block: merkle tail, time and bits fixed,
// the nonce varying, then padding and the length, 640 bits.
var First = newBlock([16]int{Fixed, Fixed, Fixed, Varying, Fixed, Zero, Zero, Zero, Zero, Zero, Zero, Zero, Zero, Zero, Zero, Fixed}, 63)

// Second is the second hash's block: the 32-byte first hash, padding and
// the length, 256 bits.
var Second = newBlock([16]int{Varying, Varying, Varying, Varying, Varying, Varying, Varying, Varying, Fixed, Zero, Zero, Zero, Zero, Zero, Zero, Fixed}, 60)

// FirstRound is the first round a path runs per nonce in each block: the
// job has run the rounds before it, all but the varying word's additions to
// a and e.
const (
	FirstRound1 = 4 // rounds 0-2 see fixed words only; round 3 adds the nonce to a and e
	FirstRound2 = 1 // round 0 adds W[0] to a and e
)

// Job is what every nonce of one header shares. Its layout is read by the
// assembly: keep the fields 32-bit words.
type Job struct {
	Mid [8]uint32 // SHA-256 state after the header's first 64 bytes
	// Block is the header's second block, padded, with the nonce word 0:
	// for SHA-NI, whose schedule instructions take four words at a time.
	Block [16]uint32
	// State1 is a..h before round 4 of the second block, but for the nonce
	// word: a and e still need W[3] added.
	State1 [8]uint32
	// KW1[t] is K[t]+W[t] where W[t] is fixed, and K[t] plus the fixed part
	// of W[t] where W[t] varies and is not read again; else K[t].
	KW1 [64]uint32
	// C1[t] is the fixed part of a varying W[t]: the sum of its fixed terms.
	C1 [64]uint32
	// State2, KW2, C2: the same for the second hash; before round 1, a and
	// e still need W[0] added.
	State2 [8]uint32
	KW2    [64]uint32
	C2     [64]uint32
	// Target is the target's most significant 32 bits: a hash whose last
	// word, byte-swapped, is above it cannot meet the target.
	Target uint32
}

// Prepare plans the search of header (nonce ignored) for target, a
// little-endian 256-bit number.
func Prepare(header *[80]byte, target *[32]byte) Job {
	var j Job
	var w [16]uint32
	for i := range w {
		w[i] = binary.BigEndian.Uint32(header[4*i:])
	}
	j.Mid = IV
	Compress(&j.Mid, &w)

	var w1 [64]uint32
	for i := range 16 {
		w1[i] = binary.BigEndian.Uint32(header[64+4*min(i, 3):])
	}
	w1[3], w1[4], w1[15] = 0, 0x80000000, 640
	for i := 5; i < 15; i++ {
		w1[i] = 0
	}
	copy(j.Block[:], w1[:16])
	j.State1 = j.Mid
	for t := range 3 {
		Round(&j.State1, K[t]+w1[t])
	}
	Round(&j.State1, K[3]) // W[3] = 0 here; each nonce adds its own to a and e
	plan(&First, &w1, &j.KW1, &j.C1)

	var w2 [64]uint32
	w2[8], w2[15] = 0x80000000, 256
	j.State2 = IV
	Round(&j.State2, K[0])
	plan(&Second, &w2, &j.KW2, &j.C2)

	j.Target = binary.LittleEndian.Uint32(target[28:])
	return j
}

// plan fills the fixed words of w from its first 16 (varying words zero),
// and kw and c as Job describes them.
func plan(b *Block, w, kw, c *[64]uint32) {
	for t := 16; t < 64; t++ {
		var sum uint32
		for _, s := range Sources(t) {
			if b.Kind[s.Word] == Fixed {
				sum += sigma(s.Sigma, w[s.Word])
			}
		}
		switch b.Kind[t] {
		case Fixed:
			w[t] = sum
		case Varying:
			c[t] = sum
		}
	}
	for t := range 64 {
		kw[t] = K[t]
		switch {
		case b.Kind[t] == Fixed:
			kw[t] += w[t]
		case b.Kind[t] == Varying && !b.Needed[t]:
			kw[t] += c[t]
		}
	}
}

// sigma applies term kind s of Source to x.
func sigma(s int, x uint32) uint32 {
	switch s {
	case 1:
		return Sigma0(x)
	case 2:
		return Sigma1(x)
	}
	return x
}

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

// Round runs one round on s with kw = K[t] + W[t].
func Round(s *[8]uint32, kw uint32) {
	a, b, c, d, e, f, g, h := s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
	t1 := h + Sum1(e) + (e&f ^ ^e&g) + kw
	t2 := Sum0(a) + (a&b ^ a&c ^ b&c)
	*s = [8]uint32{t1 + t2, a, b, c, d + t1, e, f, g}
}

// Compress runs the compression of one block into state.
func Compress(state *[8]uint32, block *[16]uint32) {
	var w [64]uint32
	copy(w[:], block[:])
	for t := 16; t < 64; t++ {
		w[t] = Sigma1(w[t-2]) + w[t-7] + Sigma0(w[t-15]) + w[t-16]
	}
	s := *state
	for t := range w {
		Round(&s, K[t]+w[t])
	}
	for i := range s {
		state[i] += s[i]
	}
}
