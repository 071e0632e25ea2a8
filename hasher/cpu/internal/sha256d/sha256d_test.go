package sha256d

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/hashforge/hashforge/kernels"
)

// rebuild returns W[t] as a path following the plan computes it: from kw
// and c, and the varying terms taken from the true schedule w.
func rebuild(b *Block, kw, c *[64]uint32, w *[64]uint32, t int) uint32 {
	switch b.Kind[t] {
	case Zero:
		return 0
	case Fixed:
		return kw[t] - kernels.K[t]
	}
	if t < 16 {
		return w[t]
	}
	var v uint32
	for _, s := range Sources(t) {
		if b.Kind[s.Word] == Varying {
			v += sigma(s.Sigma, w[s.Word])
		}
	}
	if b.Needed[t] {
		return v + c[t]
	}
	return v + kw[t] - kernels.K[t]
}

// Every word the plan folds must come out as the plain schedule's, and the
// states it starts from must lead to the real double hash.
func TestPlanMatchesSchedule(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		var header [80]byte
		for i := range header {
			header[i] = byte(rng.Uint32())
		}
		var target [32]byte
		j := Prepare(&header, &target)
		nonce := rng.Uint32()
		binary.LittleEndian.PutUint32(header[76:], nonce)

		var blk [16]uint32
		for i := range 4 {
			blk[i] = binary.BigEndian.Uint32(header[64+4*i:])
		}
		blk[4], blk[15] = 0x80000000, 640
		w1 := kernels.Schedule(&blk)
		for tt := 4; tt <= First.Last; tt++ {
			if got := rebuild(&First, &j.KW1, &j.C1, &w1, tt); got != w1[tt] {
				t.Fatalf("first hash W[%d] = %#x, want %#x", tt, got, w1[tt])
			}
		}
		s := j.State1
		s[0] += w1[3]
		s[4] += w1[3]
		for tt := 4; tt < 64; tt++ {
			kernels.Round(&s, kernels.K[tt]+w1[tt])
		}
		var blk2 [16]uint32
		for i := range 8 {
			blk2[i] = j.Mid[i] + s[i]
		}
		blk2[8], blk2[15] = 0x80000000, 256
		first := sha256.Sum256(header[:])
		for i := range 8 {
			if blk2[i] != binary.BigEndian.Uint32(first[4*i:]) {
				t.Fatalf("first hash word %d = %#x, want %x", i, blk2[i], first[4*i:4*i+4])
			}
		}
		w2 := kernels.Schedule(&blk2)
		for tt := 1; tt <= Second.Last; tt++ {
			if got := rebuild(&Second, &j.KW2, &j.C2, &w2, tt); got != w2[tt] {
				t.Fatalf("second hash W[%d] = %#x, want %#x", tt, got, w2[tt])
			}
		}
		s = j.State2
		s[0] += w2[0]
		s[4] += w2[0]
		for tt := 1; tt <= Second.Last; tt++ {
			kernels.Round(&s, kernels.K[tt]+w2[tt])
		}
		// After round 60, e is the final h of round 63.
		second := sha256.Sum256(first[:])
		if got, want := s[4]+kernels.IV[7], binary.BigEndian.Uint32(second[28:]); got != want {
			t.Fatalf("last word %#x, want %#x", got, want)
		}
	}
}

func TestPlanKinds(t *testing.T) {
	// The nonce reaches every schedule word from 18 on; 16 and 17 are fixed.
	for tt, want := range map[int]int{3: Varying, 5: Zero, 16: Fixed, 17: Fixed, 18: Varying, 63: Varying} {
		if First.Kind[tt] != want {
			t.Errorf("First.Kind[%d] = %d, want %d", tt, First.Kind[tt], want)
		}
	}
	if Second.Needed[59] || Second.Needed[60] || !Second.Needed[58] {
		t.Errorf("Second.Needed[58:61] = %v, want [true false false]", Second.Needed[58:61])
	}
}
