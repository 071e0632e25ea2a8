package chain_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"log/slog"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/store"
)

// This file is the one home of the helpers the external tests share: a chain
// on a real bbolt store, deterministic keys, signed transfers and a regtest
// block builder that can build on any parent.

// harness is a regtest chain on a real store in a temporary directory.
type harness struct {
	t   *testing.T
	dir string
	st  *store.Store
	c   *chain.Chain
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return harnessIn(t, t.TempDir())
}

// harnessIn loads the chain from the store in dir, which may already hold one.
func harnessIn(t *testing.T, dir string) *harness {
	t.Helper()
	h := &harness{t: t, dir: dir}
	t.Cleanup(func() {
		if h.st != nil {
			h.st.Close()
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
	h.st = st // closed by the cleanup even if loading fails
	h.c = newChain(h.t, st)
}

// newChain loads a regtest chain from st, writing genesis to an empty store.
func newChain(t testing.TB, st *store.Store) *chain.Chain {
	t.Helper()
	c, err := chain.New(chain.Regtest, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("chain.New: %v", err)
	}
	return c
}

// reopen closes the store and loads the chain from disk again, as a restarted
// node would.
func (h *harness) reopen() {
	h.t.Helper()
	if err := h.st.Close(); err != nil {
		h.t.Fatalf("close store: %v", err)
	}
	h.st = nil
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
			h.t.Fatalf("block at height %d: %v", height(b), err)
		}
	}
}

// extend mines n blocks in a row on parent paying miner, processes each, and
// returns them; the last is the new branch tip.
func (h *harness) extend(parent *chain.Block, n int, miner chain.Address) []*chain.Block {
	h.t.Helper()
	blocks := make([]*chain.Block, n)
	for i := range blocks {
		blocks[i] = mine(h.t, parent, miner)
		h.accept(blocks[i])
		parent = blocks[i]
	}
	return blocks
}

// wantTip fails unless the main chain ends at b.
func (h *harness) wantTip(b *chain.Block) {
	h.t.Helper()
	if tip := h.c.Tip(); tip.Hash != b.Hash() || tip.Height != height(b) {
		h.t.Fatalf("tip is %s at height %d, want %s at height %d", tip.Hash, tip.Height, b.Hash(), height(b))
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
	case b != nil && (!ok || got.Hash() != tx.Hash() || loc != chain.TxLocation{Block: b.Hash(), Height: height(b)}):
		h.t.Errorf("transaction %s at %+v (found %t), want block %s at height %d", tx.Hash(), loc, ok, b.Hash(), height(b))
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

// newKey derives a key from name, so failures name the same addresses every run.
var faucet = chain.FaucetAddress()

func newKey(name string) (ed25519.PrivateKey, chain.Address) {
	seed := sha256.Sum256([]byte(name))
	key := ed25519.NewKeyFromSeed(seed[:])
	return key, chain.AddressOf(key.Public().(ed25519.PublicKey))
}

// transfer returns a transfer signed by key for regtest.
func transfer(key ed25519.PrivateKey, to chain.Address, amount, fee, nonce uint64, memo []byte) *chain.Tx {
	tx := &chain.Tx{Kind: chain.TxTransfer, To: to, Amount: amount, Fee: fee, Nonce: nonce, Memo: memo}
	tx.Sign(key, chain.Regtest.Magic)
	return tx
}

// height is a block's height, read from its coinbase (genesis has height 0).
func height(b *chain.Block) uint64 { return b.Txs[0].Height }

// newBlock returns an unsolved regtest block on parent: a coinbase paying
// miner the subsidy plus the fees of txs, the merkle root over all of them,
// the network's bits, and a timestamp one second after the parent's, which
// is after the median time past of any chain the builder makes. Tests tamper
// with it before solve (then remerkle if the change should stay committed)
// or after solve (then solve again).
func newBlock(parent *chain.Block, miner chain.Address, txs ...*chain.Tx) *chain.Block {
	h := height(parent) + 1
	amount := chain.Regtest.SubsidyAt(h)
	for _, tx := range txs {
		amount += tx.Fee
	}
	b := &chain.Block{
		Header: chain.Header{
			Version:   1,
			PrevBlock: parent.Hash(),
			Timestamp: parent.Header.Timestamp + 1,
			Bits:      chain.Regtest.PowLimitBits,
		},
		Txs: append([]*chain.Tx{chain.NewCoinbase(h, miner, amount, 0)}, txs...),
	}
	remerkle(b)
	return b
}

// remerkle commits the header to the block's current transactions.
func remerkle(b *chain.Block) { b.Header.MerkleRoot = chain.MerkleRoot(b.TxHashes()) }

// solve searches nonces from the current one until the hash meets the
// target of the header's bits; on regtest that takes a few tries.
func solve(t testing.TB, b *chain.Block) *chain.Block {
	t.Helper()
	return searchNonce(t, b, func(cmp int) bool { return cmp <= 0 })
}

// unsolve searches nonces until the hash is above the target: a header whose
// proof of work fails while everything else about the block is valid.
func unsolve(t testing.TB, b *chain.Block) *chain.Block {
	t.Helper()
	return searchNonce(t, b, func(cmp int) bool { return cmp > 0 })
}

// searchNonce steps the nonce until ok accepts the comparison of the hash
// with the target of the header's bits.
func searchNonce(t testing.TB, b *chain.Block, ok func(cmp int) bool) *chain.Block {
	t.Helper()
	target := chain.CompactToBig(b.Header.Bits)
	for range 1 << 20 {
		if ok(chain.HashToBig(b.Hash()).Cmp(target)) {
			return b
		}
		b.Header.Nonce++
	}
	t.Fatalf("no nonce in 2^20 tries for bits %08x", b.Header.Bits)
	return nil
}

// mine builds and solves a valid block on parent.
func mine(t testing.TB, parent *chain.Block, miner chain.Address, txs ...*chain.Tx) *chain.Block {
	t.Helper()
	return solve(t, newBlock(parent, miner, txs...))
}
