package chain_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
)

func headersOf(blocks []*chain.Block) []chain.Header {
	hs := make([]chain.Header, len(blocks))
	for i, b := range blocks {
		hs[i] = b.Header
	}
	return hs
}

// TestHeaderChain adds lists of headers to a branch on a chain that stores
// blocks 1 to 3 of branch a: headers are checked as they come, stored blocks
// and known headers passed over, forks replace what they fork from, and a
// rule broken keeps the headers before it.
func TestHeaderChain(t *testing.T) {
	_, minerA := chaintest.NewKey("miner A")
	_, minerB := chaintest.NewKey("miner B")
	g := chain.Regtest.Genesis
	a := append([]*chain.Block{g}, mineRun(t, g, 12, minerA)...) // a[h] at height h
	b := mineRun(t, a[5], 7, minerB)                             // heights 6 to 12
	c := mineRun(t, a[2], 3, minerB)                             // heights 3 to 5
	// tampered is a block on a[7] with edit applied, solved unless unsolved.
	tampered := func(edit func(*chain.Block), solve func(testing.TB, *chain.Block) *chain.Block) chain.Header {
		blk := chaintest.NewBlock(a[7], minerB)
		edit(blk)
		return solve(t, blk).Header
	}
	keep := func(*chain.Block) {}
	tests := []struct {
		name      string
		adds      [][]chain.Header // added in turn; only the last may fail
		base, end uint64
		replaced  bool // by the last add
		code      chain.ErrorCode
		tip       chain.Hash // the header at end-1
	}{
		{"extends the tip", [][]chain.Header{headersOf(a[4:13])}, 4, 13, false, "", a[12].Hash()},
		{"passes over stored blocks", [][]chain.Header{headersOf(a[1:9])}, 4, 9, false, "", a[8].Hash()},
		{"next batch continues", [][]chain.Header{headersOf(a[4:8]), headersOf(a[8:13])}, 4, 13, false, "", a[12].Hash()},
		{"overlapping batch", [][]chain.Header{headersOf(a[4:10]), headersOf(a[6:13])}, 4, 13, false, "", a[12].Hash()},
		{"fork replaces the branch above it", [][]chain.Header{headersOf(a[4:13]), headersOf(b)}, 4, 13, true, "", b[6].Hash()},
		{"fork below the branch starts anew", [][]chain.Header{headersOf(a[4:13]), headersOf(c)}, 3, 6, true, "", c[2].Hash()},
		{"orphan", [][]chain.Header{headersOf(a[5:9])}, 0, 0, false, chain.ErrOrphan, chain.Hash{}},
		{"unlinked", [][]chain.Header{append(headersOf(a[4:7]), a[8].Header)}, 4, 7, false, chain.ErrUnlinkedHeaders, a[6].Hash()},
		{"hash above target", [][]chain.Header{append(headersOf(a[4:8]), tampered(keep, chaintest.Unsolve))}, 4, 8, false, chain.ErrBadPoW, a[7].Hash()},
		{"bits not the network's", [][]chain.Header{append(headersOf(a[4:8]),
			tampered(func(b *chain.Block) { b.Header.Bits = 0x207ffffe }, chaintest.Solve))}, 4, 8, false, chain.ErrBadBits, a[7].Hash()},
		{"time at median time past", [][]chain.Header{append(headersOf(a[4:8]),
			tampered(func(b *chain.Block) { b.Header.Timestamp = a[2].Header.Timestamp }, chaintest.Solve))}, 4, 8, false, chain.ErrTimeTooOld, a[7].Hash()},
		{"time three hours ahead", [][]chain.Header{append(headersOf(a[4:8]),
			tampered(func(b *chain.Block) { b.Header.Timestamp = uint32(time.Now().Add(3 * time.Hour).Unix()) }, chaintest.Solve))}, 4, 8, false, chain.ErrTimeTooNew, a[7].Hash()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.accept(a[1:4]...)
			hc := h.c.NewHeaderChain()
			var replaced bool
			var err error
			for i, hs := range tt.adds {
				if replaced, err = hc.Add(hs); err != nil && i < len(tt.adds)-1 {
					t.Fatalf("add %d: %v", i, err)
				}
			}
			if chain.Code(err) != tt.code || (err != nil) != (tt.code != "") {
				t.Fatalf("Add: %v, want %q", err, tt.code)
			}
			if replaced != tt.replaced || hc.Base() != tt.base || hc.End() != tt.end {
				t.Fatalf("branch [%d, %d), replaced %v; want [%d, %d), %v", hc.Base(), hc.End(), replaced, tt.base, tt.end, tt.replaced)
			}
			if tt.end == tt.base {
				return
			}
			if tip, _ := hc.Hash(tt.end - 1); tip != tt.tip {
				t.Errorf("header at %d is %s, want %s", tt.end-1, tip, tt.tip)
			}
			for height := tt.base; height < tt.end; height++ {
				hash, _ := hc.Hash(height)
				if got, ok := hc.Height(hash); !ok || got != height {
					t.Errorf("Height(Hash(%d)) = %d, %v", height, got, ok)
				}
			}
		})
	}
}

// Headers whose blocks are stored can be forgotten; the branch goes on
// from the stored blocks, and headers after it are still checked against
// the right parents.
func TestHeaderChainForget(t *testing.T) {
	h := newHarness(t)
	_, miner := chaintest.NewKey("miner")
	run := mineRun(t, h.genesis(), 30, miner)
	hc := h.c.NewHeaderChain()
	if _, err := hc.Add(headersOf(run[:20])); err != nil {
		t.Fatal(err)
	}
	if n, err := h.c.ProcessBlocks(context.Background(), run[:12]); n != 12 || err != nil {
		t.Fatalf("ProcessBlocks = %d, %v", n, err)
	}
	hc.Forget(13)
	if hc.Base() != 13 || hc.End() != 21 {
		t.Fatalf("after Forget(13): [%d, %d), want [13, 21)", hc.Base(), hc.End())
	}
	if _, ok := hc.Height(run[5].Hash()); ok {
		t.Errorf("a forgotten header is still known")
	}
	if _, err := hc.Add(headersOf(run[10:30])); err != nil {
		t.Fatal(err)
	}
	if hc.Base() != 13 || hc.End() != 31 {
		t.Fatalf("after the next batch: [%d, %d), want [13, 31)", hc.Base(), hc.End())
	}
	// A header that breaks a rule only its ancestors show still fails.
	bad := chaintest.NewBlock(run[29], miner)
	bad.Header.Timestamp = run[20].Header.Timestamp
	if _, err := hc.Add([]chain.Header{chaintest.Solve(t, bad).Header}); chain.Code(err) != chain.ErrTimeTooOld {
		t.Errorf("a header at the median time past: %v", err)
	}
}
