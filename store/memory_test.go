package store_test

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/store"
)

// The chain runs the same on both stores: the same blocks, handed over in
// the same order through two reorganisations, leave the same tip, index,
// main chain, accounts, undo data and transaction index, and chain.Verify
// passes on both.
func TestMemoryMatchesBbolt(t *testing.T) {
	onBolt, bolt := chaintest.NewChain(t)
	onMemory, mem := chaintest.NewMemoryChain(t)
	var all []*chain.Block
	feed := func(blocks ...*chain.Block) {
		t.Helper()
		all = append(all, blocks...)
		n1, err1 := onBolt.ProcessBlocks(context.Background(), blocks)
		n2, err2 := onMemory.ProcessBlocks(context.Background(), blocks)
		if n1 != len(blocks) || n2 != n1 || err1 != nil || err2 != nil {
			t.Fatalf("ProcessBlocks took %d (%v) on bbolt, %d (%v) in memory, of %d", n1, err1, n2, err2, len(blocks))
		}
		if a, b := onBolt.Tip(), onMemory.Tip(); a.Hash != b.Hash {
			t.Fatalf("tip %s on bbolt, %s in memory", a.Hash, b.Hash)
		}
	}
	faucet := chain.FaucetKey()
	_, alice := chaintest.NewKey("alice")
	_, bob := chaintest.NewKey("bob")
	_, minerA := chaintest.NewKey("miner A")
	_, minerB := chaintest.NewKey("miner B")

	// genesis - a1 - a2 - a3 - a4 - a5 - a6   (A: pays alice, then bob)
	//             \
	//              b2 - b3 - b4 - b5          (B: pays bob)
	g := chain.Regtest.Genesis
	a1 := chaintest.Mine(t, g, minerA, chaintest.Transfer(faucet, alice, 10*chain.Coin, chain.Coin, 0, nil))
	a2 := chaintest.Mine(t, a1, minerA, chaintest.Transfer(faucet, alice, 5*chain.Coin, chain.Coin, 1, []byte("A")))
	a3 := chaintest.Mine(t, a2, minerA)
	feed(a1, a2, a3)
	b2 := chaintest.Mine(t, a1, minerB, chaintest.Transfer(faucet, bob, 7*chain.Coin, 2*chain.Coin, 1, []byte("B")))
	b3 := chaintest.Mine(t, b2, minerB)
	b4 := chaintest.Mine(t, b3, minerB)
	b5 := chaintest.Mine(t, b4, minerB)
	feed(b2, b3, b4, b5) // B overtakes A
	a4 := chaintest.Mine(t, a3, minerA)
	a5 := chaintest.Mine(t, a4, minerA, chaintest.Transfer(faucet, bob, chain.Coin, chain.Coin, 2, nil))
	a6 := chaintest.Mine(t, a5, minerA)
	feed(a4, a5, a6) // and A comes back
	if onMemory.Tip().Hash != a6.Hash() {
		t.Fatalf("tip %s, want a6 %s", onMemory.Tip().Hash, a6.Hash())
	}
	if st := onMemory.Stats(); st.Reorgs != 2 {
		t.Errorf("%d reorganisations on the memory store, want 2", st.Reorgs)
	}

	if a, b := snapshot(t, bolt), snapshot(t, mem); !a.equal(b) {
		t.Errorf("the stores differ:\nbbolt  %+v\nmemory %+v", a, b)
	}
	for _, b := range append([]*chain.Block{g}, all...) {
		u1, err1 := bolt.Undo(b.Hash())
		u2, err2 := mem.Undo(b.Hash())
		if !slices.Equal(u1, u2) || (err1 == nil) != (err2 == nil) {
			t.Errorf("undo data of %s: %+v (%v) on bbolt, %+v (%v) in memory", b.Hash(), u1, err1, u2, err2)
		}
		for _, id := range b.TxHashes() {
			at1, ok1, _ := bolt.TxBlock(id)
			at2, ok2, _ := mem.TxBlock(id)
			if at1 != at2 || ok1 != ok2 {
				t.Errorf("transaction %s: in %s (%v) on bbolt, %s (%v) in memory", id, at1, ok1, at2, ok2)
			}
		}
	}
	tip1, err := chain.Verify(context.Background(), chain.Regtest, bolt, nil)
	if err != nil {
		t.Fatalf("Verify on bbolt: %v", err)
	}
	tip2, err := chain.Verify(context.Background(), chain.Regtest, mem, nil)
	if err != nil {
		t.Fatalf("Verify in memory: %v", err)
	}
	if tip1.Hash != tip2.Hash || tip1.Work.Cmp(tip2.Work) != 0 {
		t.Errorf("Verify ends at %s on bbolt, %s in memory", tip1.Hash, tip2.Hash)
	}
	// A chain loaded again from the memory store resumes at the same tip.
	if again := chaintest.OpenMemoryChain(t, mem); again.Tip().Hash != a6.Hash() {
		t.Errorf("a chain loaded again from the memory store is at %s, want %s", again.Tip().Hash, a6.Hash())
	}
}

// TestMemoryPerBlock measures what a Memory holds per block of a coinbase
// and ten transfers, on the main chain, as the simulator keeps a thousand
// stores of a thousand such blocks: a store alone, and each further store
// of the same blocks, which shares their bytes and undo data with the
// first. The figures in Memory's comment come from here.
func TestMemoryPerBlock(t *testing.T) {
	const blocks, transfers = 1000, 10
	writes := mainChainWrites(t, blocks, transfers)
	rawBytes := 0
	for _, w := range writes {
		rawBytes += len(w.raw)
	}
	encoded := float64(rawBytes) / float64(len(writes))
	fill := func() (*store.Memory, float64) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := store.NewMemory()
		for _, w := range writes {
			if err := m.PutBlock(w.entry, w.raw); err != nil {
				t.Fatal(err)
			}
			if err := m.Connect(w.u); err != nil {
				t.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		return m, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(writes))
	}
	first, alone := fill()
	second, shared := fill()
	runtime.KeepAlive(first)
	runtime.KeepAlive(second)
	runtime.KeepAlive(writes)
	t.Logf("%d blocks of %d transactions, %.0f bytes encoded on average: a store alone holds %.0f bytes a block (%.2f× the encoding), each further store of the same blocks %.0f",
		len(writes), transfers+1, encoded, alone, alone/encoded, shared)
	// Bounds well above what is measured: a store that kept decoded blocks,
	// a copy too many, or stores that stopped sharing go past them.
	if alone > 4*encoded || shared > encoded {
		t.Errorf("%.0f bytes a block alone, %.0f shared; want under %.0f and %.0f", alone, shared, 4*encoded, encoded)
	}
}

// write is what a chain hands its store for one main-chain block.
type write struct {
	entry chain.IndexEntry
	raw   []byte
	u     chain.Update
}

// mainChainWrites returns what a chain connecting n blocks of a coinbase
// and the given number of transfers from the faucet, to a hundred
// addresses in turn, writes to its store, genesis first. The transfers are
// not signed (signing ten thousand would take longer than the rest of the
// store's tests) and the blocks not solved: a chain would not take them, but
// they have the sizes of signed transfers and solved blocks.
func mainChainWrites(t *testing.T, n, transfers int) []write {
	t.Helper()
	faucet := chain.FaucetAddress()
	var recipients []chain.Address
	for i := range 100 {
		recipients = append(recipients, chain.Address{1, byte(i)})
	}
	miner := chain.Address{2}
	accounts := map[chain.Address]chain.Account{faucet: {Balance: chain.FaucetAlloc}}
	g := chain.Regtest.Genesis
	writes := []write{{chain.IndexEntry{Header: g.Header}, g.Bytes(), chain.Update{Hash: g.Hash(), Tip: g.Hash(), Txs: g.TxHashes(),
		Changes: []chain.AccountChange{{Address: faucet, New: accounts[faucet]}}}}}
	parent := g
	nonce := uint64(0)
	for height := uint64(1); height <= uint64(n); height++ {
		var changes []chain.AccountChange
		change := func(a chain.Address, f func(*chain.Account)) {
			c := chain.AccountChange{Address: a, Old: accounts[a]}
			acc := accounts[a]
			f(&acc)
			c.New, accounts[a] = acc, acc
			changes = append(changes, c)
		}
		txs := make([]*chain.Tx, transfers)
		for i := range txs {
			to := recipients[nonce%uint64(len(recipients))]
			txs[i] = &chain.Tx{Kind: chain.TxTransfer, From: [32]byte{3}, To: to, Amount: chain.Coin, Fee: 1000, Nonce: nonce}
			nonce++
		}
		b := chaintest.NewBlock(parent, miner, txs...)
		change(miner, func(a *chain.Account) { a.Balance += b.Txs[0].Amount })
		change(faucet, func(a *chain.Account) {
			a.Balance -= uint64(transfers) * (chain.Coin + 1000)
			a.Nonce += uint64(transfers)
		})
		for _, tx := range txs {
			change(tx.To, func(a *chain.Account) { a.Balance += tx.Amount })
		}
		writes = append(writes, write{chain.IndexEntry{Header: b.Header, Height: height}, b.Bytes(),
			chain.Update{Hash: b.Hash(), Height: height, Tip: b.Hash(), Changes: changes, Txs: b.TxHashes()}})
		parent = b
	}
	return writes
}

// A Memory serves a chain's readers while it connects blocks, as a node's
// API and peers read its store.
func TestMemoryConcurrentUse(t *testing.T) {
	m := store.NewMemory()
	writes := mainChainWrites(t, 200, 2)
	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				tip, _ := m.Tip()
				if !tip.IsZero() {
					if _, err := m.Block(tip); err != nil {
						t.Errorf("Block(tip): %v", err)
						return
					}
				}
				m.LoadIndex(func(chain.IndexEntry) error { return nil })
				m.ForEachAccount(func(chain.Address, chain.Account) error { return nil })
				m.TxBlock(writes[1].u.Txs[0])
			}
		})
	}
	for _, w := range writes {
		if err := m.PutBlock(w.entry, w.raw); err != nil {
			t.Fatal(err)
		}
		if err := m.Connect(w.u); err != nil {
			t.Fatal(err)
		}
		m.PutPeer("127.0.0.1:8999", time.Unix(int64(w.u.Height), 0))
	}
	close(done)
	readers.Wait()
	if tip, _ := m.Tip(); tip != writes[len(writes)-1].u.Hash {
		t.Errorf("tip %s, want the last block's", tip)
	}
}
