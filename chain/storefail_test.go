package chain_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
)

// A block whose storing or connecting failed on a full disk is not lost: it
// is offered again and goes in once the store writes again. While the store
// fails it answers with the store's error, never duplicate-block, so the
// miner that found the block retries it instead of mining another at the same
// height; a block that is not waiting to be connected is still a duplicate.
func TestStoreFailureRetried(t *testing.T) {
	_, minerA := chaintest.NewKey("miner A")
	_, minerB := chaintest.NewKey("miner B")
	g := chain.Regtest.Genesis
	a1 := chaintest.Mine(t, g, minerA)
	b1 := chaintest.Mine(t, g, minerB)
	b2 := chaintest.Mine(t, b1, minerB)

	tests := []struct {
		name   string
		before []*chain.Block // accepted before the disk fills
		fail   chaintest.Op
		offer  []*chain.Block // offered while it is full: the last one fails
		dup    *chain.Block   // a known block that is still a duplicate meanwhile
		main   []*chain.Block // the main chain once the last offer is retried
	}{
		{"connect fails", nil, chaintest.OpConnect, []*chain.Block{a1}, g, []*chain.Block{g, a1}},
		{"store fails", nil, chaintest.OpPutBlock, []*chain.Block{a1}, g, []*chain.Block{g, a1}},
		{"reorganisation cut short", []*chain.Block{a1}, chaintest.OpDisconnect, []*chain.Block{b1, b2}, a1, []*chain.Block{g, b1, b2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, st := chaintest.NewFaultyChain(t)
			ctx := context.Background()
			for _, b := range tt.before {
				if err := c.ProcessBlock(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			st.Fail(tt.fail)
			last := tt.offer[len(tt.offer)-1]
			for _, b := range tt.offer[:len(tt.offer)-1] {
				if err := c.ProcessBlock(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			tip := c.Tip()
			for try := range 3 {
				err := c.ProcessBlock(ctx, last)
				if !errors.Is(err, chaintest.ErrDiskFull) || chain.Code(err) != "" {
					t.Fatalf("offer %d on a full disk: %v, want the store's error", try+1, err)
				}
			}
			if got := c.Tip(); got.Hash != tip.Hash {
				t.Fatalf("tip moved to %s on a full disk", got.Hash)
			}
			if err := c.ProcessBlock(ctx, tt.dup); chain.Code(err) != chain.ErrDuplicateBlock {
				t.Errorf("a block not waiting to be connected: %v, want duplicate-block", err)
			}

			st.Fail()
			if err := c.ProcessBlock(ctx, last); err != nil {
				t.Fatalf("offered again once the disk has room: %v", err)
			}
			if err := c.ProcessBlock(ctx, last); chain.Code(err) != chain.ErrDuplicateBlock {
				t.Errorf("offered once more after it went in: %v, want duplicate-block", err)
			}
			if got := c.Tip(); got.Hash != tt.main[len(tt.main)-1].Hash() {
				t.Fatalf("tip %s at height %d, want %s", got.Hash, got.Height, tt.main[len(tt.main)-1].Hash())
			}
			if _, err := chain.Verify(ctx, chain.Regtest, st, nil); err != nil {
				t.Fatalf("verify: %v", err)
			}
			for i, b := range tt.main {
				if got, ok, err := st.MainHash(uint64(i)); err != nil || !ok || got != b.Hash() {
					t.Errorf("main chain at height %d: %s, want %s", i, got, b.Hash())
				}
			}
		})
	}
}
