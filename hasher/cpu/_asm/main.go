// Command _asm generates the CPU backend's SHA-256d search in amd64
// assembly with avo, and its portable path in Go:
//
//	go run . -out ../sha256d_amd64.s -stubs ../sha256d_amd64.go -pkg cpu -go ../sha256d_generic.go
//
// Each path follows the plan of package sha256d, which the portable Go path
// follows too: the job's precomputed words are read from a *sha256d.Job,
// fixed schedule words never reach a register, and the second hash stops
// after round 60 with a compare of its last word against the target's.
package main

import (
	"flag"
	"maps"
	"slices"
	"unsafe"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"

	"github.com/hashforge/hashforge/hasher/cpu/internal/sha256d"
)

var goOut = flag.String("go", "", "write the portable Go path to this file")

func main() {
	flag.Parse()
	golang(*goOut)
	ConstraintExpr("!purego")
	constants()
	avx512()
	avx2()
	shani()
	cpuid()
	Generate()
}

// Byte offsets of the job's fields.
var (
	offMid    = int(unsafe.Offsetof(sha256d.Job{}.Mid))
	offBlock  = int(unsafe.Offsetof(sha256d.Job{}.Block))
	offState1 = int(unsafe.Offsetof(sha256d.Job{}.State1))
	offKW1    = int(unsafe.Offsetof(sha256d.Job{}.KW1))
	offC1     = int(unsafe.Offsetof(sha256d.Job{}.C1))
	offState2 = int(unsafe.Offsetof(sha256d.Job{}.State2))
	offKW2    = int(unsafe.Offsetof(sha256d.Job{}.KW2))
	offC2     = int(unsafe.Offsetof(sha256d.Job{}.C2))
	offTarget = int(unsafe.Offsetof(sha256d.Job{}.Target))
)

// block is one compression's plan with where its words live in the job.
type block struct {
	*sha256d.Block
	state, kw, c int // job offsets
	first        int // first round run per nonce
}

var (
	first  = block{&sha256d.First, offState1, offKW1, offC1, sha256d.FirstRound1}
	second = block{&sha256d.Second, offState2, offKW2, offC2, sha256d.FirstRound2}
)

// eOnly: after round Last-4 only e matters, when the block stops early:
// the e of round Last reads a no later than round Last-4 wrote it.
func (b block) eOnly(t int) bool { return b.Last < 63 && t > b.Last-4 }

// lastUse is the last round or schedule word of b that reads W[s].
func (b block) lastUse(s int) int {
	last := s
	for t := 16; t <= b.Last; t++ {
		for _, src := range sha256d.Sources(t) {
			if src.Word == s {
				last = max(last, t)
			}
		}
	}
	return last
}

// term is one varying term of a schedule word: W[word], or s0 or s1 of it.
type term struct {
	word, sigma int
}

// terms lists the varying terms of schedule word t and whether it has a
// fixed part to add (b.C), which it has only when a later word reads it:
// otherwise the fixed part is folded into b.KW.
func (b block) terms(t int) (ts []term, fixed bool) {
	for _, s := range sha256d.Sources(t) {
		switch b.Kind[s.Word] {
		case sha256d.Varying:
			ts = append(ts, term{s.Word, s.Sigma})
		case sha256d.Fixed:
			fixed = b.Needed[t]
		}
	}
	return ts, fixed
}

// lanes is a path that runs one nonce per vector lane.
type lanes interface {
	// schedule computes varying word t from the terms (and the fixed
	// part at job offset c, if c >= 0) and returns where it is kept.
	schedule(t int, ts []term, w map[int]Op, c int) Op
	// round runs round t: kw is the job offset of K[t] (+ fixed W[t]), wt
	// the varying word or nil.
	round(t int, kw int, wt Op, eOnly bool)
	// release says word w is read no more.
	release(w Op)
}

// compress emits the rounds of b from b.first on, scheduling each varying
// word just before its round; w holds the varying words so far.
func compress(l lanes, b block, w map[int]Op) {
	for t := b.first; t <= b.Last; t++ {
		var wt Op
		if b.Kind[t] == sha256d.Varying {
			if t >= 16 {
				ts, fixed := b.terms(t)
				c := -1
				if fixed {
					c = b.c + 4*t
				}
				w[t] = l.schedule(t, ts, w, c)
			}
			wt = w[t]
		}
		l.round(t, b.kw+4*t, wt, b.eOnly(t))
		// In word order, so that the output is the same on every run.
		for _, s := range slices.Sorted(maps.Keys(w)) {
			if b.lastUse(s) <= t {
				l.release(w[s])
				delete(w, s)
			}
		}
	}
}

// nextGroup ends a path's loop over groups: count the group, return with
// the mask of its lanes if any passed, else go on to the next while groups
// remain (labels PATH_group, PATH_out).
func nextGroup(path string, done, groups, result reg.Register) {
	INCQ(done)
	TESTL(result, result)
	JNZ(LabelRef(path + "_out"))
	CMPQ(done, groups)
	JB(LabelRef(path + "_group"))
	Label(path + "_out")
	Store(done, ReturnIndex(0))
	Store(result, ReturnIndex(1))
}

// jobPtr holds the job's address in the function being generated.
var jobPtr reg.Register

// word is the job's 32-bit word at byte offset off.
func word(off int) Mem { return Mem{Base: jobPtr, Disp: off} }

// regPool hands out a path's vector registers, lowest number first, so that
// the generated code is the same on every run.
type regPool struct{ free []reg.Register }

func newPool(regs ...reg.Register) *regPool { return &regPool{free: regs} }

func (p *regPool) get() reg.Register {
	if len(p.free) == 0 {
		panic("out of vector registers")
	}
	r := p.free[0]
	p.free = p.free[1:]
	return r
}

func (p *regPool) put(r reg.Register) {
	i, _ := slices.BinarySearchFunc(p.free, r, func(a, b reg.Register) int {
		return int(a.(reg.Physical).PhysicalIndex()) - int(b.(reg.Physical).PhysicalIndex())
	})
	p.free = slices.Insert(p.free, i, r)
}
