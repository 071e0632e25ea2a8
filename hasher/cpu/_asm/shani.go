package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/hashforge/hashforge/kernels"
)

// shaStream is one nonce's registers in the SHA-NI path: the state as
// SHA256RNDS2 wants it, ABEF and CDGH, and four message registers holding
// schedule words 4g..4g+3 of group g in m[g%4].
type shaStream struct {
	abef, cdgh VecPhysical
	m          [4]VecPhysical
}

// rnds2 runs two rounds with the round constants plus words in X0's low
// half; the new ABEF is written over CDGH, and the old ABEF is the new CDGH.
func (s *shaStream) rnds2() {
	SHA256RNDS2(X0, s.abef, s.cdgh)
	s.abef, s.cdgh = s.cdgh, s.abef
}

// schedule computes group g's four words from the four groups before it:
// W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16].
func (s *shaStream) schedule(g int, tmp VecPhysical) {
	m := func(i int) VecPhysical { return s.m[(g+i)%4] } // m(-4) .. m(-1)
	SHA256MSG1(m(-3), m(-4))
	MOVO(m(-1), tmp)
	PALIGNR(U8(4), m(-2), tmp) // words t-7 .. t-4
	PADDD(tmp, m(-4))
	SHA256MSG2(m(-1), m(-4))
}

// shani emits scanSHANI: two nonces at a time, each with its own
// registers, their instructions interleaved so that one nonce's rounds run
// while the other's wait on SHA256RNDS2's latency.
func shani() {
	TEXT("scanSHANI", 0, "func(job *uint32, nonce uint32, groups int) (done int, mask uint32)")
	Pragma("noescape")
	Doc("scanSHANI is scanAVX512 for 2 nonces a group.")
	jobPtr = Load(Param("job"), GP64())
	groups := Load(Param("groups"), GP64())
	nonce := Load(Param("nonce"), GP32())
	done, result, top := GP64(), GP32(), GP32()
	XORQ(done, done)

	kTable := GLOBL("shaK", RODATA|NOPTR)
	for i, k := range kernels.K {
		DATA(4*i, U32(k))
	}
	tail2 := GLOBL("shaTail2", RODATA|NOPTR) // the second hash's words 8-15
	DATA(0, U32(0x80000000))
	DATA(28, U32(256))
	iv := kernels.IV
	ivABEF := GLOBL("shaIVABEF", RODATA|NOPTR)
	for i, v := range []uint32{iv[5], iv[4], iv[1], iv[0]} {
		DATA(4*i, U32(v))
	}
	ivCDGH := GLOBL("shaIVCDGH", RODATA|NOPTR)
	for i, v := range []uint32{iv[7], iv[6], iv[3], iv[2]} {
		DATA(4*i, U32(v))
	}

	// Once per call: the midstate as ABEF and CDGH, and the state after
	// rounds 0 and 1 of the second block, whose words are fixed.
	midABEF, midCDGH := AllocLocal(16), AllocLocal(16)
	s2ABEF, s2CDGH := AllocLocal(16), AllocLocal(16)
	toABEF(word(offMid), word(offMid+16), X1, X2, X3)
	MOVOU(X1, midABEF)
	MOVOU(X2, midCDGH)
	MOVOU(word(offKW1), X0)
	SHA256RNDS2(X0, X1, X2) // X2: ABEF after round 1; X1 the CDGH
	MOVOU(X2, s2ABEF)
	MOVOU(X1, s2CDGH)

	a := &shaStream{abef: X1, cdgh: X2, m: [4]VecPhysical{X3, X4, X5, X6}}
	b := &shaStream{abef: X7, cdgh: X8, m: [4]VecPhysical{X9, X10, X11, X12}}
	streams := []*shaStream{a, b}
	both := func(f func(s *shaStream)) {
		for _, s := range streams {
			f(s)
		}
	}
	n := GP32()

	Label("shani_group")
	// First hash: rounds 2-63 of the second block, nonce in word 3.
	MOVL(nonce, n)
	for _, s := range streams {
		MOVOU(s2ABEF, s.abef)
		MOVOU(s2CDGH, s.cdgh)
		for i := range 4 {
			MOVOU(word(offBlock+16*i), s.m[i])
		}
		tmp := GP32()
		MOVL(n, tmp)
		BSWAPL(tmp)
		PINSRD(U8(3), tmp, s.m[0])
		INCL(n)
	}
	both(func(s *shaStream) {
		MOVO(s.m[0], X0)
		addMem(kTable, X0)
		PSHUFD(U8(0x0e), X0, X0) // rounds 2 and 3
		s.rnds2()
	})
	fixedRounds(streams, word(offKW1+16), word(offKW1+32), word(offKW1+48))
	for g := 4; g < 16; g++ {
		scheduledRounds(streams, g, kTable, false)
	}
	// Add the midstate; the words of the first hash are the second's
	// message: A-D in m[0], E-H in m[1].
	both(func(s *shaStream) {
		addMem(midABEF, s.abef)
		addMem(midCDGH, s.cdgh)
		fromABEF(s.abef, s.cdgh, s.m[0], s.m[1])
		MOVOU(ivABEF, s.abef)
		MOVOU(ivCDGH, s.cdgh)
		MOVOU(tail2, s.m[2])
		MOVOU(tail2.Offset(16), s.m[3])
	})
	// Second hash: rounds 0-7 on the first hash's words, 8-15 on padding.
	for g := range 2 {
		both(func(s *shaStream) {
			MOVO(s.m[g], X0)
			addMem(kTable.Offset(16*g), X0)
			s.rnds2()
			PSHUFD(U8(0x0e), X0, X0)
			s.rnds2()
		})
	}
	fixedRounds(streams, word(offKW2+32), word(offKW2+48))
	// Rounds 16-61: after round 61, F is e after round 60, the final h.
	for g := 4; g < 16; g++ {
		scheduledRounds(streams, g, kTable, g == 15)
	}
	XORL(result, result)
	for i, s := range streams {
		MOVQ(s.abef, top.As64())
		ADDL(U32(kernels.IV[7]), top)
		BSWAPL(top)
		CMPL(top, word(offTarget))
		JHI(LabelRef("shani_miss" + string(rune('0'+i))))
		ORL(U32(1<<i), result)
		Label("shani_miss" + string(rune('0'+i)))
	}
	ADDL(U32(2), nonce)
	nextGroup("shani", done, groups, result)
	RET()
}

// fixedRounds runs four rounds per operand, each K+W fixed and the same
// for every stream.
func fixedRounds(streams []*shaStream, kws ...Mem) {
	for _, kw := range kws {
		MOVOU(kw, X0)
		for _, s := range streams {
			s.rnds2()
		}
		PSHUFD(U8(0x0e), X0, X0)
		for _, s := range streams {
			s.rnds2()
		}
	}
}

// scheduledRounds computes group g's words and runs its rounds; last
// stops after the group's first two rounds (the second hash needs no more).
func scheduledRounds(streams []*shaStream, g int, k Mem, last bool) {
	for _, s := range streams {
		s.schedule(g, X13)
	}
	for _, s := range streams {
		MOVO(s.m[g%4], X0)
		addMem(k.Offset(16*g), X0)
		s.rnds2()
		if !last {
			PSHUFD(U8(0x0e), X0, X0)
			s.rnds2()
		}
	}
}

// toABEF loads a state of eight words (A-D at lo, E-H at hi) as ABEF and
// CDGH, with tmp as scratch.
func toABEF(lo, hi Mem, abef, cdgh, tmp VecPhysical) {
	MOVOU(lo, abef)
	MOVOU(hi, cdgh)
	PSHUFD(U8(0xb1), abef, abef) // C D A B
	PSHUFD(U8(0x1b), cdgh, cdgh) // E F G H
	MOVO(abef, tmp)
	PALIGNR(U8(8), cdgh, abef)   // A B E F
	PBLENDW(U8(0xf0), tmp, cdgh) // C D G H
}

// fromABEF turns ABEF and CDGH back into words A-D (lo) and E-H (hi).
func fromABEF(abef, cdgh, lo, hi VecPhysical) {
	PSHUFD(U8(0x1b), abef, lo) // F E B A
	PSHUFD(U8(0xb1), cdgh, hi) // D C H G
	MOVO(lo, X14)
	PBLENDW(U8(0xf0), hi, lo) // D C B A
	PALIGNR(U8(8), X14, hi)   // H G F E
}

// addMem adds four words from memory to x; SSE's PADDD would need the
// memory 16-byte aligned, which neither the stack nor the job promise.
func addMem(m Mem, x VecPhysical) {
	MOVOU(m, X15)
	PADDD(X15, x)
}
