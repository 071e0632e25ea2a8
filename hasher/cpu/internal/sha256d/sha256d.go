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

	"github.com/hashforge/hashforge/kernels"
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
	j.Mid = kernels.IV
	kernels.Compress(&j.Mid, &w)

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
		kernels.Round(&j.State1, kernels.K[t]+w1[t])
	}
	kernels.Round(&j.State1, kernels.K[3]) // W[3] = 0 here; each nonce adds its own to a and e
	plan(&First, &w1, &j.KW1, &j.C1)

	var w2 [64]uint32
	w2[8], w2[15] = 0x80000000, 256
	j.State2 = kernels.IV
	kernels.Round(&j.State2, kernels.K[0])
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
		kw[t] = kernels.K[t]
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
		return kernels.Sigma0(x)
	case 2:
		return kernels.Sigma1(x)
	}
	return x
}
