package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/hashforge/hashforge/kernels"
)

// Shared constants of the vector paths.
var (
	bswapMask, laneOffsets, iv7 Mem
)

func constants() {
	bswapMask = GLOBL("bswap32", RODATA|NOPTR)
	// VPSHUFB indices, per 128-bit lane: bytes 3 2 1 0 7 6 5 4 ...
	for i := 0; i < 64; i += 16 {
		DATA(i, U64(0x0405060700010203))
		DATA(i+8, U64(0x0c0d0e0f08090a0b))
	}
	laneOffsets = GLOBL("laneOffsets", RODATA|NOPTR)
	for i := range 16 {
		DATA(4*i, U32(i))
	}
	iv7 = ConstData("iv7", U32(kernels.IV[7]))
}

// avx512 emits scanAVX512: 16 nonces per ZMM register, all 32 registers
// in use, so the schedule words never leave registers; ternary logic does
// Ch, Maj and each three-way XOR in one instruction, rotates are native,
// and fixed terms are added from the job by embedded broadcast.
func avx512() {
	TEXT("scanAVX512", NOSPLIT, "func(job *uint32, nonce uint32, groups int) (done int, mask uint32)")
	Pragma("noescape")
	Doc("scanAVX512 hashes groups of 16 nonces from nonce on until a group has",
		"a lane whose hash's last word, byte-swapped, is at most the target's top",
		"word; it returns the groups hashed and that group's lanes as a bit mask.")
	jobPtr = Load(Param("job"), GP64())
	groups := Load(Param("groups"), GP64())
	done := GP64()
	XORQ(done, done)
	z := &zmm{pool: newPool(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31)}
	nonces, swap := z.pool.get(), z.pool.get()
	n := Load(Param("nonce"), GP32())
	VPBROADCASTD(n, nonces)
	VPADDD(laneOffsets, nonces, nonces)
	VMOVDQU64(bswapMask, swap)
	result := GP32()

	Label("avx512_group")
	// The nonce is word 3 of the header's second block, big-endian.
	w3 := z.pool.get()
	VPSHUFB(swap, nonces, w3)
	z.loadState(first.state, w3)
	w := map[int]Op{3: w3}
	compress(z, first, w)

	// The first hash, state plus midstate, is the second hash's message.
	w = map[int]Op{}
	for i, r := range z.st {
		VPADDD_BCST(word(offMid+4*i), r, r)
		w[i] = r
	}
	z.loadState(second.state, w[0])
	compress(z, second, w)

	// The hash's last word is IV[7] plus e after round 60.
	last := z.st[4]
	VPADDD_BCST(iv7, last, last)
	VPSHUFB(swap, last, last)
	VPCMPUD_BCST(U8(2), word(offTarget), last, K1) // last <= target
	KMOVW(K1, result)
	for _, r := range z.st {
		z.pool.put(r)
	}
	VPADDD_BCST(ConstData("sixteen", U32(16)), nonces, nonces)
	nextGroup("avx512", done, groups, result)
	VZEROUPPER()
	RET()
}

// zmm is the AVX-512 path's register state: a..h in st.
type zmm struct {
	pool *regPool
	st   [8]Register
}

// loadState loads a block's starting state from the job into registers
// from the pool and adds the varying word w to a and e.
func (z *zmm) loadState(off int, w Op) {
	for i := range z.st {
		z.st[i] = z.pool.get()
		if i == 0 || i == 4 {
			VPADDD_BCST(word(off+4*i), w, z.st[i])
		} else {
			VPBROADCASTD(word(off+4*i), z.st[i])
		}
	}
}

func (z *zmm) release(w Op) { z.pool.put(w.(Register)) }

// sigma sets dst to ror(x, r1) ^ ror(x, r2) ^ (ror or shr)(x, r3).
func (z *zmm) sigma(dst, x Register, r1, r2, r3 int, shift bool) {
	t0, t1 := z.pool.get(), z.pool.get()
	VPRORD(U8(r1), x, t0)
	VPRORD(U8(r2), x, t1)
	if shift {
		VPSRLD(U8(r3), x, dst)
	} else {
		VPRORD(U8(r3), x, dst)
	}
	VPTERNLOGD(U8(0x96), t0, t1, dst)
	z.pool.put(t0)
	z.pool.put(t1)
}

func (z *zmm) schedule(t int, ts []term, w map[int]Op, c int) Op {
	dst := z.pool.get()
	var parts []Register
	for _, tm := range ts {
		x := w[tm.word].(Register)
		switch tm.sigma {
		case 0:
			parts = append(parts, x)
		case 1:
			s := z.pool.get()
			z.sigma(s, x, 7, 18, 3, true)
			parts = append(parts, s)
		case 2:
			s := z.pool.get()
			z.sigma(s, x, 17, 19, 10, true)
			parts = append(parts, s)
		}
	}
	// dst = parts[0] + parts[1] + ... + fixed part.
	switch {
	case len(parts) == 1 && c < 0:
		VMOVDQA64(parts[0], dst)
	case len(parts) == 1:
		VPADDD_BCST(word(c), parts[0], dst)
	default:
		VPADDD(parts[0], parts[1], dst)
		for _, p := range parts[2:] {
			VPADDD(p, dst, dst)
		}
		if c >= 0 {
			VPADDD_BCST(word(c), dst, dst)
		}
	}
	for i, tm := range ts {
		if tm.sigma != 0 {
			z.pool.put(parts[i])
		}
	}
	return dst
}

func (z *zmm) round(t int, kw int, wt Op, eOnly bool) {
	a, b, c, d, e, f, g, h := z.st[0], z.st[1], z.st[2], z.st[3], z.st[4], z.st[5], z.st[6], z.st[7]
	Commentf("round %d", t)
	// h becomes T1 = h + K[t] + W[t] + Σ1(e) + Ch(e, f, g).
	VPADDD_BCST(word(kw), h, h)
	if wt != nil {
		VPADDD(wt, h, h)
	}
	s := z.pool.get()
	z.sigma(s, e, 6, 11, 25, false)
	VPADDD(s, h, h)
	// VPTERNLOGD overwrites its first input: Ch and Maj work on a copy
	// (register moves cost no execution port; measured, a variant that
	// avoided the copy ran no faster).
	VMOVDQA64(e, s)
	VPTERNLOGD(U8(0xca), g, f, s) // s = e ? f : g
	VPADDD(s, h, h)
	VPADDD(h, d, d) // the new e
	if !eOnly {
		// h becomes the new a: T1 + Σ0(a) + Maj(a, b, c).
		z.sigma(s, a, 2, 13, 22, false)
		VPADDD(s, h, h)
		VMOVDQA64(a, s)
		VPTERNLOGD(U8(0xe8), c, b, s) // majority
		VPADDD(s, h, h)
	}
	z.pool.put(s)
	z.st = [8]Register{h, a, b, c, d, e, f, g}
}
