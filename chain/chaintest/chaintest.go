// Package chaintest builds regtest blocks and signed transfers for tests of
// the chain and of the packages above it: deterministic keys, a block builder
// that can build on any parent, and a nonce search that takes a few tries on
// regtest.
package chaintest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"log/slog"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/store"
)

// NewChain returns a regtest chain at genesis on a real store in a temporary
// directory, closed when the test ends.
func NewChain(t testing.TB) (*chain.Chain, *store.Store) {
	t.Helper()
	st := openStore(t)
	return newChainOn(t, st), st
}

// OpenChain opens the store in dir and a regtest chain on it, for tests
// that close and reopen a datadir; the caller closes the store.
func OpenChain(t testing.TB, dir string) (*chain.Chain, *store.Store) {
	t.Helper()
	st, err := store.Open(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return newChainOn(t, st), st
}

// NewMemoryChain returns a regtest chain at genesis on a store in memory,
// as the simulator runs its nodes' chains.
func NewMemoryChain(t testing.TB) (*chain.Chain, *store.Memory) {
	t.Helper()
	st := store.NewMemory()
	return newChainOn(t, st), st
}

// OpenMemoryChain loads a regtest chain from a store in memory that may
// already hold one, as a node restarting on the same store would.
func OpenMemoryChain(t testing.TB, st *store.Memory) *chain.Chain {
	t.Helper()
	return newChainOn(t, st)
}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newChainOn(t testing.TB, st chain.Store) *chain.Chain {
	t.Helper()
	c, err := chain.New(chain.Regtest, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewKey derives a key from name, so failures name the same addresses every run.
func NewKey(name string) (ed25519.PrivateKey, chain.Address) {
	seed := sha256.Sum256([]byte(name))
	key := ed25519.NewKeyFromSeed(seed[:])
	return key, chain.AddressOf(key.Public().(ed25519.PublicKey))
}

// Transfer returns a transfer signed by key for regtest.
func Transfer(key ed25519.PrivateKey, to chain.Address, amount, fee, nonce uint64, memo []byte) *chain.Tx {
	tx := &chain.Tx{Kind: chain.TxTransfer, To: to, Amount: amount, Fee: fee, Nonce: nonce, Memo: memo}
	tx.Sign(key, chain.Regtest.Magic)
	return tx
}

// Height is a block's height, read from its coinbase (genesis has height 0).
func Height(b *chain.Block) uint64 { return b.Txs[0].Height }

// NewBlock returns an unsolved regtest block on parent: a coinbase paying
// Miner the subsidy plus the fees of txs, the merkle root over all of them,
// the network's bits, and a timestamp one second after the parent's, which
// is after the median time past of any chain the builder makes. Tests tamper
// with it before solve (then remerkle if the change should stay committed)
// or after solve (then solve again).
func NewBlock(parent *chain.Block, miner chain.Address, txs ...*chain.Tx) *chain.Block {
	h := Height(parent) + 1
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
	Remerkle(b)
	return b
}

// Remerkle commits the header to the block's current transactions.
func Remerkle(b *chain.Block) { b.Header.MerkleRoot = chain.MerkleRoot(b.TxHashes()) }

// Solve searches nonces from the current one until the hash meets the
// target of the header's bits; on regtest that takes a few tries.
func Solve(t testing.TB, b *chain.Block) *chain.Block {
	t.Helper()
	return searchNonce(t, b, func(cmp int) bool { return cmp <= 0 })
}

// Unsolve searches nonces until the hash is above the target: a header whose
// proof of work fails while everything else about the block is valid.
func Unsolve(t testing.TB, b *chain.Block) *chain.Block {
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

// Mine builds and solves a valid block on parent.
func Mine(t testing.TB, parent *chain.Block, miner chain.Address, txs ...*chain.Tx) *chain.Block {
	t.Helper()
	return Solve(t, NewBlock(parent, miner, txs...))
}

// Extend mines n coinbase-only blocks on c's tip paying miner and connects
// them as a sync does, in runs of one store transaction each: a chain of
// tens of thousands of blocks builds in seconds.
func Extend(t testing.TB, c *chain.Chain, n int, miner chain.Address) {
	t.Helper()
	parent, err := c.Block(c.Tip().Hash)
	if err != nil {
		t.Fatal(err)
	}
	const runBlocks = 4000
	run := make([]*chain.Block, 0, runBlocks)
	for i := range n {
		parent = Mine(t, parent, miner)
		if run = append(run, parent); len(run) == runBlocks || i == n-1 {
			Connect(t, c, run)
			run = run[:0]
		}
	}
}

// Connect hands blocks that must all be valid to ProcessBlocks.
func Connect(t testing.TB, c *chain.Chain, blocks []*chain.Block) {
	t.Helper()
	if n, err := c.ProcessBlocks(context.Background(), blocks); n != len(blocks) || err != nil {
		t.Fatalf("ProcessBlocks took %d of %d blocks: %v", n, len(blocks), err)
	}
}
