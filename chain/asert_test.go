package chain

import (
	"math"
	"math/big"
	"testing"
	"time"
)

// scheduleChain builds the block tree nextBits sees: genesis, block 1 (the
// ASERT anchor) at anchorTime, then blocks up to height each TargetSpacing
// after the one before, except that the last block's time is moved by drift
// (negative: ahead of schedule). Only timestamps and heights matter to ASERT.
func scheduleChain(p *Params, height uint64, drift time.Duration) *blockNode {
	const anchorTime = 1_800_000_000
	n := newBlockNode(p.Genesis.Header, nil)
	for h := uint64(1); h <= height; h++ {
		ts := anchorTime + int64(h-1)*int64(p.TargetSpacing/time.Second)
		if h == height {
			ts += int64(drift / time.Second)
		}
		n = newBlockNode(Header{PrevBlock: n.hash, Timestamp: uint32(ts), Bits: p.Genesis.Header.Bits}, n)
	}
	return n
}

// Every block keeps its branch's block 1 at hand, the ASERT anchor.
func TestAnchor(t *testing.T) {
	for _, height := range []uint64{0, 1, 2, 3, 1000} {
		n := scheduleChain(Devnet, height, 0)
		if want := n.ancestor(1); height > 0 && n.anchor != want || height == 0 && n.anchor != nil {
			t.Errorf("height %d: anchor at height %v, want block 1", height, n.anchor)
		}
	}
}

// BenchmarkNextBitsDeep is the difficulty of a block 100,000 blocks past
// the anchor: it must not cost a walk back to it.
func BenchmarkNextBitsDeep(b *testing.B) {
	n := scheduleChain(Devnet, 100_000, 0)
	for b.Loop() {
		Devnet.nextBits(n)
	}
}

func TestNextBitsASERT(t *testing.T) {
	p := Devnet
	half := p.ASERTHalfLife
	genesisBits := p.Genesis.Header.Bits // 0x1e010000: a target of 2^232
	tests := []struct {
		name   string
		height uint64        // the parent's height
		drift  time.Duration // the parent's distance from the ideal schedule
		// want is the exact bits when the result is exact in compact form;
		// wantRatio, when set, is the expected target over the genesis target,
		// 2^(drift/half-life), checked within the cubic's and compact's precision.
		want      uint32
		wantRatio float64
	}{
		{name: "genesis parent", height: 0, want: genesisBits},
		// Block 1 is the anchor, so its child has nothing to correct yet,
		// however late the anchor itself was.
		{name: "anchor parent", height: 1, drift: 100 * half, want: genesisBits},
		{name: "on schedule", height: 50, want: genesisBits, wantRatio: 1},
		{name: "one half-life ahead halves", height: 50, drift: -half, want: 0x1e008000, wantRatio: 0.5},
		{name: "one half-life behind doubles", height: 50, drift: half, want: 0x1e020000, wantRatio: 2},
		{name: "three half-lives ahead", height: 50, drift: -3 * half, want: 0x1d200000, wantRatio: 0.125},
		{name: "half a half-life behind", height: 50, drift: half / 2, wantRatio: math.Sqrt2},
		{name: "a tenth ahead", height: 50, drift: -half / 10, wantRatio: math.Pow(2, -0.1)},
		{name: "one spacing behind", height: 7, drift: p.TargetSpacing, wantRatio: math.Pow(2, 10.0/300)},
		// 2^232 doubled eight times passes the 0xffff·2^224 limit.
		{name: "far behind clamps at pow limit", height: 50, drift: 8 * half, want: p.PowLimitBits},
		{name: "very far behind clamps at pow limit", height: 50, drift: 1000 * half, want: p.PowLimitBits},
		// 300 halvings shift the target to zero, and the target floors at 1.
		{name: "very far ahead floors at one", height: 50, drift: -300 * half, want: 0x01010000},
	}
	genesisTarget := new(big.Float).SetInt(CompactToBig(genesisBits))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.nextBits(scheduleChain(p, tt.height, tt.drift))
			if tt.want != 0 && got != tt.want {
				t.Errorf("nextBits = %08x, want %08x", got, tt.want)
			}
			if tt.wantRatio != 0 {
				ratio, _ := new(big.Float).Quo(new(big.Float).SetInt(CompactToBig(got)), genesisTarget).Float64()
				// The cubic approximates 2^x within about 0.013%; the 16-bit
				// mantissa of these targets adds up to 0.0015%.
				if math.Abs(ratio/tt.wantRatio-1) > 2e-4 {
					t.Errorf("nextBits = %08x: target ratio %.6f, want %.6f", got, ratio, tt.wantRatio)
				}
			}
		})
	}
}

// TestNextBitsMonotonic checks that a later parent never makes the next
// block harder: a miner gains nothing by lying about time in that direction.
func TestNextBitsMonotonic(t *testing.T) {
	p := Devnet
	prev := big.NewInt(0)
	for drift := -10 * p.ASERTHalfLife; drift <= 10*p.ASERTHalfLife; drift += 7 * time.Second {
		target := CompactToBig(p.nextBits(scheduleChain(p, 40, drift)))
		if target.Cmp(prev) < 0 {
			t.Fatalf("drift %s gives target %#x, below %#x of an earlier time", drift, target, prev)
		}
		prev = target
	}
}

// TestNextBitsRegtest checks that a network without a half-life never moves
// difficulty, whatever the schedule.
func TestNextBitsRegtest(t *testing.T) {
	for _, drift := range []time.Duration{-time.Hour, 0, 24 * time.Hour} {
		if got := Regtest.nextBits(scheduleChain(Regtest, 20, drift)); got != Regtest.Genesis.Header.Bits {
			t.Errorf("drift %s: nextBits = %08x, want genesis bits %08x", drift, got, Regtest.Genesis.Header.Bits)
		}
	}
}

func TestMedianTimePast(t *testing.T) {
	tests := []struct {
		name  string
		times []uint32 // oldest first; the last is the node asked
		want  uint32
	}{
		{"genesis alone", []uint32{100}, 100},
		{"two blocks take the later", []uint32{100, 90}, 100},
		{"three out of order", []uint32{30, 10, 20}, 20},
		{"ten", []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 6},
		{"exactly eleven", []uint32{11, 3, 9, 1, 7, 5, 2, 10, 4, 8, 6}, 6},
		// Only the last eleven count: the two huge times at the start would
		// move the median if they were included.
		{"thirteen look back eleven", []uint32{1000, 1000, 11, 3, 9, 1, 7, 5, 2, 10, 4, 8, 6}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n *blockNode
			for _, ts := range tt.times {
				h := Header{Timestamp: ts}
				if n != nil {
					h.PrevBlock = n.hash
				}
				n = newBlockNode(h, n)
			}
			if got := n.medianTimePast(); got != tt.want {
				t.Errorf("medianTimePast = %d, want %d", got, tt.want)
			}
		})
	}
}
