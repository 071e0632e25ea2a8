package chain_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/store"
)

// This file is the one home of the helpers the external tests share: a chain
// on a store, a real bbolt one or one in memory, and what to check of it.
// Keys, transfers and blocks come from chaintest, which tests of other
// packages share.

// testStore is what the tests read of a chain's store: the chain's own
// interface and what chain.Verify reads.
type testStore interface {
	chain.Store
	chain.VerifyStore
}

// harness is a regtest chain on a store: a bbolt store in a temporary
// directory, or a store in memory.
type harness struct {
	t    *testing.T
	dir  string       // the bbolt store's datadir; "" for a store in memory
	disk *store.Store // the bbolt store, closed by the cleanup
	st   testStore
	c    *chain.Chain
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return harnessIn(t, t.TempDir())
}

// newMemoryHarness is a chain on a store in memory, as the simulator's
// nodes run.
func newMemoryHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, st: store.NewMemory()}
	h.c = newChain(t, h.st)
	return h
}

// onEachStore runs test as a subtest on a new chain on each kind of store.
func onEachStore(t *testing.T, test func(t *testing.T, h *harness)) {
	for _, kind := range []struct {
		name    string
		harness func(*testing.T) *harness
	}{{"bbolt", newHarness}, {"memory", newMemoryHarness}} {
		t.Run(kind.name, func(t *testing.T) { test(t, kind.harness(t)) })
	}
}

// harnessIn loads the chain from the store in dir, which may already hold one.
func harnessIn(t *testing.T, dir string) *harness {
	t.Helper()
	h := &harness{t: t, dir: dir}
	t.Cleanup(func() {
		if h.disk != nil {
			h.disk.Close()
		}
	})
	h.open()
	return h
}

func (h *harness) open() {
	h.t.Helper()
	st, err := store.Open(h.dir, false)
	if err != nil {
		h.t.Fatalf("open store: %v", err)
	}
	h.disk, h.st = st, st // closed by the cleanup even if loading fails
	h.c = newChain(h.t, st)
}

// newChain loads a regtest chain from st, writing genesis to an empty store.
func newChain(t testing.TB, st chain.Store) *chain.Chain {
	t.Helper()
	c, err := chain.New(chain.Regtest, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("chain.New: %v", err)
	}
	return c
}

// reopen loads the chain from its store again, as a restarted node would:
// a bbolt store is closed and opened first, a store in memory is loaded
// as it is.
func (h *harness) reopen() {
	h.t.Helper()
	if h.disk == nil {
		h.c = newChain(h.t, h.st)
		return
	}
	if err := h.disk.Close(); err != nil {
		h.t.Fatalf("close store: %v", err)
	}
	h.disk, h.st = nil, nil
	h.open()
}

// genesis returns the regtest genesis block, the parent of the first block.
func (h *harness) genesis() *chain.Block { return chain.Regtest.Genesis }

// process hands b to the chain as a peer or the miner would.
func (h *harness) process(b *chain.Block) error {
	return h.c.ProcessBlock(context.Background(), b)
}

// accept processes blocks that must all be valid.
func (h *harness) accept(blocks ...*chain.Block) {
	h.t.Helper()
	for _, b := range blocks {
		if err := h.process(b); err != nil {
			h.t.Fatalf("block at height %d: %v", chaintest.Height(b), err)
		}
	}
}

// extend mines n blocks in a row on parent paying miner, processes each, and
// returns them; the last is the new branch tip.
func (h *harness) extend(parent *chain.Block, n int, miner chain.Address) []*chain.Block {
	h.t.Helper()
	blocks := make([]*chain.Block, n)
	for i := range blocks {
		blocks[i] = chaintest.Mine(h.t, parent, miner)
		h.accept(blocks[i])
		parent = blocks[i]
	}
	return blocks
}

// wantTip fails unless the main chain ends at b.
func (h *harness) wantTip(b *chain.Block) {
	h.t.Helper()
	if tip := h.c.Tip(); tip.Hash != b.Hash() || tip.Height != chaintest.Height(b) {
		h.t.Fatalf("tip is %s at height %d, want %s at height %d", tip.Hash, tip.Height, b.Hash(), chaintest.Height(b))
	}
}

// wantTxAt fails unless the chain finds tx in main-chain block b, or nowhere
// when b is nil.
func (h *harness) wantTxAt(tx *chain.Tx, b *chain.Block) {
	h.t.Helper()
	got, loc, ok, err := h.c.Transaction(tx.Hash())
	switch {
	case err != nil:
		h.t.Fatalf("Transaction(%s): %v", tx.Hash(), err)
	case b == nil && ok:
		h.t.Errorf("transaction %s found in block %s, want it off the main chain", tx.Hash(), loc.Block)
	case b != nil && (!ok || got.Hash() != tx.Hash() || loc != chain.TxLocation{Block: b.Hash(), Height: chaintest.Height(b)}):
		h.t.Errorf("transaction %s at %+v (found %t), want block %s at height %d", tx.Hash(), loc, ok, b.Hash(), chaintest.Height(b))
	}
}

// wantDetached fails unless the blocks that left the main chain since from
// was the tip are want, oldest first.
func (h *harness) wantDetached(from *chain.Block, want ...*chain.Block) {
	h.t.Helper()
	var got []*chain.Block
	if err := h.c.View(func(v *chain.View) (err error) {
		got, err = v.Detached(from.Hash())
		return err
	}); err != nil {
		h.t.Fatalf("Detached(%s): %v", from.Hash(), err)
	}
	if len(got) != len(want) {
		h.t.Fatalf("Detached(%s): %d blocks, want %d", from.Hash(), len(got), len(want))
	}
	for i := range got {
		if got[i].Hash() != want[i].Hash() {
			h.t.Errorf("Detached(%s)[%d] = %s, want %s", from.Hash(), i, got[i].Hash(), want[i].Hash())
		}
	}
	h.c.View(func(v *chain.View) error {
		for _, b := range want {
			if height, main, ok := v.Locate(b.Hash()); !ok || main || height != chaintest.Height(b) {
				h.t.Errorf("View.Locate(%s) = %d, main %v, known %v; want %d off the main chain", b.Hash(), height, main, ok, chaintest.Height(b))
			}
			if got, err := v.Block(b.Hash()); err != nil || got.Hash() != b.Hash() {
				h.t.Errorf("View.Block(%s): %v", b.Hash(), err)
			}
		}
		return nil
	})
}

// account reads an address's state from the chain's store.
func (h *harness) account(a chain.Address) chain.Account {
	h.t.Helper()
	acc, err := h.st.Account(a)
	if err != nil {
		h.t.Fatalf("account %s: %v", a, err)
	}
	return acc
}

// wantAccounts fails unless the store holds exactly the accounts in want,
// which a test computes by hand from the blocks of the main chain.
func (h *harness) wantAccounts(want map[chain.Address]chain.Account) {
	h.t.Helper()
	got := make(map[chain.Address]chain.Account)
	if err := h.st.ForEachAccount(func(a chain.Address, acc chain.Account) error {
		got[a] = acc
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	for a, acc := range want {
		if got[a] != acc {
			h.t.Errorf("account %s: %+v, want %+v", a, got[a], acc)
		}
	}
	for a, acc := range got {
		if _, ok := want[a]; !ok {
			h.t.Errorf("account %s: %+v, want none", a, acc)
		}
	}
}

// wantMain fails unless the store's main chain is exactly blocks, genesis first.
func (h *harness) wantMain(blocks ...*chain.Block) {
	h.t.Helper()
	for i, b := range blocks {
		got, ok, err := h.st.MainHash(uint64(i))
		if err != nil || !ok || got != b.Hash() {
			h.t.Errorf("main chain at height %d: %s (found %v, %v), want %s", i, got, ok, err, b.Hash())
		}
	}
	if got, ok, err := h.st.MainHash(uint64(len(blocks))); ok || err != nil {
		h.t.Errorf("main chain continues past height %d: %s, %v", len(blocks)-1, got, err)
	}
	// The chain's own index agrees with the store.
	h.c.View(func(v *chain.View) error {
		for i, b := range blocks {
			if got, ok := v.HashAt(uint64(i)); !ok || got != b.Hash() {
				h.t.Errorf("View.HashAt(%d) = %s, %v; want %s", i, got, ok, b.Hash())
			}
			if height, main, ok := v.Locate(b.Hash()); height != uint64(i) || !main || !ok {
				h.t.Errorf("View.Locate(%s) = %d, %v, %v; want %d on the main chain", b.Hash(), height, main, ok, i)
			}
		}
		if got, ok := v.HashAt(uint64(len(blocks))); ok {
			h.t.Errorf("View.HashAt(%d) = %s past the tip", len(blocks), got)
		}
		return nil
	})
}

// verify replays the stored main chain with chain.Verify, which cross-checks
// the store's tip, undo data and accounts, and returns the verified tip.
func (h *harness) verify() chain.Tip {
	h.t.Helper()
	tip, err := chain.Verify(context.Background(), chain.Regtest, h.st, nil)
	if err != nil {
		h.t.Fatalf("chain.Verify: %v", err)
	}
	return tip
}

// faucet holds the genesis allocation on every network.
var faucet = chain.FaucetAddress()
