package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// avx2 emits scanAVX2: 8 nonces per YMM register. Sixteen registers hold
// the state, Maj's carried b^c and temporaries; schedule words live on the
// stack. Rotates are two shifts, and Maj(a, b, c) = b ^ ((a^b) & (b^c))
// reuses this round's a^b as the next round's b^c.
func avx2() {
	TEXT("scanAVX2", 0, "func(job *uint32, nonce uint32, groups int) (done int, mask uint32)")
	Pragma("noescape")
	Doc("scanAVX2 is scanAVX512 for 8 nonces a group.")
	jobPtr = Load(Param("job"), GP64())
	groups := Load(Param("groups"), GP64())
	done := GP64()
	XORQ(done, done)
	y := &ymm{pool: newPool(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)}
	y.w = AllocLocal(32 * 64)
	nonces := AllocLocal(32)
	n := Load(Param("nonce"), GP32()).(GPVirtual)
	x := y.pool.get()
	MOVQ(n.As64(), x.(VecPhysical).AsX())
	VPBROADCASTD(x.(VecPhysical).AsX(), x)
	VPADDD(laneOffsets, x, x)
	VMOVDQU(x, nonces)
	y.pool.put(x)
	result := GP32()

	Label("avx2_group")
	x = y.pool.get()
	VMOVDQU(nonces, x)
	VPSHUFB(bswapMask.Offset(0), x, x) // low 32 bytes: the same per 128-bit lane
	VMOVDQU(x, y.word(3))
	y.pool.put(x)
	y.loadState(first.state, y.word(3))
	compress(y, first, map[int]Op{3: y.word(3)})

	w := map[int]Op{}
	t := y.pool.get()
	for i, r := range y.st {
		VPBROADCASTD(word(offMid+4*i), t)
		VPADDD(t, r, r)
		VMOVDQU(r, y.word(i))
		w[i] = y.word(i)
		y.pool.put(r)
	}
	y.pool.put(t)
	y.pool.put(y.bc)
	y.loadState(second.state, y.word(0))
	compress(y, second, w)

	last := y.st[4]
	t = y.pool.get()
	VPBROADCASTD(iv7, t)
	VPADDD(t, last, last)
	VPSHUFB(bswapMask.Offset(0), last, last)
	VPBROADCASTD(word(offTarget), t)
	VPMINUD(t, last, t)
	VPCMPEQD(t, last, t) // min(last, target) == last: last <= target
	VMOVMSKPS(t, result)
	y.pool.put(t)
	for _, r := range y.st {
		y.pool.put(r)
	}
	y.pool.put(y.bc)
	x = y.pool.get()
	VMOVDQU(nonces, x)
	t = y.pool.get()
	VPBROADCASTD(ConstData("eight", U32(8)), t)
	VPADDD(t, x, x)
	VMOVDQU(x, nonces)
	y.pool.put(t)
	y.pool.put(x)
	nextGroup("avx2", done, groups, result)
	VZEROUPPER()
	RET()
}

// ymm is the AVX2 path's state: a..h in st, b^c in bc, words on the stack.
type ymm struct {
	pool *regPool
	st   [8]Register
	bc   Register
	w    Mem
}

func (y *ymm) word(t int) Mem { return y.w.Offset(32 * t) }

// loadState loads a block's starting state from the job, adds the varying
// word w to a and e, and computes b^c for the first Maj.
func (y *ymm) loadState(off int, w Mem) {
	for i := range y.st {
		y.st[i] = y.pool.get()
		VPBROADCASTD(word(off+4*i), y.st[i])
		if i == 0 || i == 4 {
			VPADDD(w, y.st[i], y.st[i])
		}
	}
	y.bc = y.pool.get()
	VPXOR(y.st[1], y.st[2], y.bc)
}

func (y *ymm) release(Op) {}

// rotations sets dst to the XOR of x rotated right by each of rs, and
// shifted right by shr if it is not 0.
func (y *ymm) rotations(dst, x Register, shr int, rs ...int) {
	u := y.pool.get()
	first := true
	xor := func(r Register) {
		if first {
			VMOVDQA(r, dst)
			first = false
			return
		}
		VPXOR(r, dst, dst)
	}
	for _, r := range rs {
		VPSRLD(U8(r), x, u)
		xor(u)
		VPSLLD(U8(32-r), x, u)
		xor(u)
	}
	if shr > 0 {
		VPSRLD(U8(shr), x, u)
		VPXOR(u, dst, dst)
	}
	y.pool.put(u)
}

func (y *ymm) schedule(t int, ts []term, w map[int]Op, c int) Op {
	acc := y.pool.get()
	x, s := y.pool.get(), y.pool.get()
	for i, tm := range ts {
		src := w[tm.word].(Mem)
		var v Op = src
		if tm.sigma != 0 {
			VMOVDQU(src, x)
			if tm.sigma == 1 {
				y.rotations(s, x, 3, 7, 18)
			} else {
				y.rotations(s, x, 10, 17, 19)
			}
			v = s
		}
		if i == 0 {
			if tm.sigma == 0 {
				VMOVDQU(src, acc)
			} else {
				VMOVDQA(s, acc)
			}
			continue
		}
		VPADDD(v, acc, acc)
	}
	if c >= 0 {
		VPBROADCASTD(word(c), x)
		VPADDD(x, acc, acc)
	}
	VMOVDQU(acc, y.word(t))
	y.pool.put(s)
	y.pool.put(x)
	y.pool.put(acc)
	return y.word(t)
}

func (y *ymm) round(t int, kw int, wt Op, eOnly bool) {
	a, b, c, d, e, f, g, h := y.st[0], y.st[1], y.st[2], y.st[3], y.st[4], y.st[5], y.st[6], y.st[7]
	Commentf("round %d", t)
	s := y.pool.get()
	VPBROADCASTD(word(kw), s)
	VPADDD(s, h, h)
	if wt != nil {
		VPADDD(wt, h, h)
	}
	y.rotations(s, e, 0, 6, 11, 25)
	VPADDD(s, h, h)
	VPXOR(g, f, s) // Ch(e, f, g) = ((f ^ g) & e) ^ g
	VPAND(e, s, s)
	VPXOR(g, s, s)
	VPADDD(s, h, h)
	VPADDD(h, d, d) // the new e
	if !eOnly {
		y.rotations(s, a, 0, 2, 13, 22)
		VPADDD(s, h, h)
		ab := y.pool.get()
		VPXOR(b, a, ab)
		VPAND(ab, y.bc, s)
		VPXOR(b, s, s)
		VPADDD(s, h, h)
		y.pool.put(y.bc)
		y.bc = ab // the next round's b^c
	}
	y.pool.put(s)
	y.st = [8]Register{h, a, b, c, d, e, f, g}
}
