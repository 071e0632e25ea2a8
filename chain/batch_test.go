package chain_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/store"
)

// mineRun builds n solved blocks in a row on parent paying miner, without
// processing them: a run a sync would download.
func mineRun(t testing.TB, parent *chain.Block, n int, miner chain.Address) []*chain.Block {
	t.Helper()
	blocks := make([]*chain.Block, n)
	for i := range blocks {
		blocks[i] = chaintest.Mine(t, parent, miner)
		parent = blocks[i]
	}
	return blocks
}

// TestProcessBlocks hands runs of blocks to the batch path: the blocks that
// extend the tip are connected together, anything else goes the one-block
// way, and the result is what ProcessBlock one block at a time gives.
func TestProcessBlocks(t *testing.T) {
	_, minerA := chaintest.NewKey("miner A")
	_, minerB := chaintest.NewKey("miner B")
	g := chain.Regtest.Genesis
	tests := []struct {
		name string
		// setup processes blocks before the run and returns the run.
		setup func(h *harness) []*chain.Block
		taken int             // blocks ProcessBlocks reports taken
		code  chain.ErrorCode // of the error about the block after them
		tip   int             // index in the run of the tip afterwards; -1: the tip before
	}{
		{"run on genesis", func(h *harness) []*chain.Block {
			return mineRun(t, g, 50, minerA)
		}, 50, "", 49},
		{"run led by known blocks", func(h *harness) []*chain.Block {
			run := mineRun(t, g, 10, minerA)
			h.accept(run[:3]...)
			return run
		}, 10, "", 9},
		{"bad merkle root in the middle", func(h *harness) []*chain.Block {
			run := mineRun(t, g, 10, minerA)
			run[6].Header.MerkleRoot[0] ^= 1
			chaintest.Solve(t, run[6])
			return run
		}, 6, chain.ErrBadMerkleRoot, 5},
		{"wrong coinbase height in the middle", func(h *harness) []*chain.Block {
			run := mineRun(t, g, 3, minerA)
			bad := chaintest.NewBlock(run[2], minerA)
			bad.Txs[0] = chain.NewCoinbase(9, minerA, bad.Txs[0].Amount, 0)
			chaintest.Remerkle(bad)
			return append(run, chaintest.Solve(t, bad))
		}, 3, chain.ErrBadCoinbaseHeight, 2},
		{"coinbase overpays in the middle", func(h *harness) []*chain.Block {
			run := mineRun(t, g, 3, minerA)
			bad := chaintest.NewBlock(run[2], minerA)
			bad.Txs[0].Amount++
			chaintest.Remerkle(bad)
			return append(run, chaintest.Solve(t, bad))
		}, 3, chain.ErrBadCoinbaseAmount, 2},
		{"orphan run", func(h *harness) []*chain.Block {
			return mineRun(t, g, 4, minerA)[1:]
		}, 0, chain.ErrOrphan, -1},
		// The run starts on a side branch and overtakes the tip: the first
		// blocks are stored beside it, the third reorganises onto them, and
		// the rest extend the new tip as a run.
		{"side branch that overtakes", func(h *harness) []*chain.Block {
			h.extend(g, 2, minerA)
			return mineRun(t, g, 6, minerB)
		}, 6, "", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			onEachStore(t, func(t *testing.T, h *harness) {
				run := tt.setup(h)
				before := h.c.Tip()
				n, err := h.c.ProcessBlocks(context.Background(), run)
				if n != tt.taken || chain.Code(err) != tt.code || (err != nil) != (tt.code != "") {
					t.Fatalf("ProcessBlocks = %d, %v; want %d, %q", n, err, tt.taken, tt.code)
				}
				if tt.tip < 0 {
					if h.c.Tip().Hash != before.Hash {
						t.Errorf("tip moved to %s", h.c.Tip().Hash)
					}
				} else {
					h.wantTip(run[tt.tip])
				}
				h.verify()
				// What a restart loads is what the chain held.
				tip := h.c.Tip()
				h.reopen()
				if got := h.c.Tip(); got.Hash != tip.Hash {
					t.Errorf("after a restart the tip is %s, was %s", got.Hash, tip.Hash)
				}
			})
		})
	}
}

// failingStore fails every ConnectBlocks while fail is set, as a full disk
// would, and counts the calls.
type failingStore struct {
	*store.Store
	fail  bool
	calls int
}

var errDiskFull = errors.New("disk full")

func (s *failingStore) ConnectBlocks(bs []chain.BlockUpdate) error {
	s.calls++
	if s.fail {
		return errDiskFull
	}
	return s.Store.ConnectBlocks(bs)
}

// A run is one store transaction. One that fails leaves no trace, in the
// store or in memory: the same run connects once the store works again.
func TestProcessBlocksStoreFailure(t *testing.T) {
	st, err := store.Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fs := &failingStore{Store: st, fail: true}
	c, err := chain.New(chain.Regtest, fs, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, miner := chaintest.NewKey("miner")
	run := mineRun(t, chain.Regtest.Genesis, 20, miner)
	if n, err := c.ProcessBlocks(context.Background(), run); n != 0 || !errors.Is(err, errDiskFull) {
		t.Fatalf("ProcessBlocks on a failing store = %d, %v", n, err)
	}
	if c.Tip().Height != 0 || c.Have(run[0].Hash()) {
		t.Fatalf("a failed run left tip %d, first block known %v", c.Tip().Height, c.Have(run[0].Hash()))
	}
	if _, ok, _ := st.MainHash(1); ok {
		t.Fatal("a failed run left a main-chain block in the store")
	}
	fs.fail = false
	if n, err := c.ProcessBlocks(context.Background(), run); n != len(run) || err != nil {
		t.Fatalf("ProcessBlocks after the failure = %d, %v", n, err)
	}
	if fs.calls != 2 {
		t.Errorf("two runs of %d blocks took %d store transactions", len(run), fs.calls)
	}
	if _, err := chain.Verify(context.Background(), chain.Regtest, st, nil); err != nil {
		t.Fatal(err)
	}
}
