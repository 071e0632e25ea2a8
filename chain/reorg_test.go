package chain_test

import (
	"context"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/store"
)

// TestReorg builds branch A with a transfer, then a competing branch B from
// an earlier fork point with its own transfer, which overtakes A; then A
// overtakes B again. After each switch the store must hold exactly the state
// a replay of the winning branch gives: the balances worked out by hand
// below, and chain.Verify's own replay.
func TestReorg(t *testing.T) { onEachStore(t, testReorg) }

func testReorg(t *testing.T, h *harness) {
	alice, aliceAddr := chaintest.NewKey("alice")
	_, bob := chaintest.NewKey("bob")
	_, carol := chaintest.NewKey("carol")
	_, minerA := chaintest.NewKey("miner A")
	_, minerB := chaintest.NewKey("miner B")
	tips, cancel := h.c.Subscribe()
	defer cancel()

	// genesis - c1 - c2 - a3 - a4 - a5          (A: c2 and a3..a5 pay alice, then bob)
	//             \
	//              b2 - b3 - b4 - b5 - b6       (B: forks below c2, pays carol)
	c1 := chaintest.Mine(t, h.genesis(), aliceAddr)
	c2 := chaintest.Mine(t, c1, aliceAddr)
	a3 := chaintest.Mine(t, c2, minerA, chaintest.Transfer(alice, bob, 30*chain.Coin, 2*chain.Coin, 0, []byte("A")))
	a4 := chaintest.Mine(t, a3, minerA)
	a5 := chaintest.Mine(t, a4, minerA)
	h.accept(c1, c2, a3, a4, a5)
	h.wantTip(a5)
	genesisAccount := chain.Account{Balance: chain.FaucetAlloc}
	onA := map[chain.Address]chain.Account{
		faucet:    genesisAccount,
		aliceAddr: {Balance: 100*chain.Coin - 32*chain.Coin, Nonce: 1},
		bob:       {Balance: 30 * chain.Coin},
		minerA:    {Balance: 3*50*chain.Coin + 2*chain.Coin},
	}
	h.wantAccounts(onA)

	// On B alice only has c1's coinbase, and her nonce 0 is free again.
	b2 := chaintest.Mine(t, c1, minerB)
	b3 := chaintest.Mine(t, b2, minerB, chaintest.Transfer(alice, carol, 20*chain.Coin, chain.Coin, 0, []byte("B")))
	b4 := chaintest.Mine(t, b3, minerB)
	b5 := chaintest.Mine(t, b4, minerB)
	b6 := chaintest.Mine(t, b5, minerB)
	for _, b := range []*chain.Block{b2, b3, b4, b5} {
		h.accept(b)
		// b5 ties a5: the branch seen first keeps the chain.
		h.wantTip(a5)
	}
	drain(tips)
	h.accept(b6)
	h.wantTip(b6)
	// Ten blocks checked, one move that detached blocks (a5's branch).
	st := h.c.Stats()
	if st.Reorgs != 1 || st.Validation.Count != 10 {
		t.Errorf("stats: %d reorgs, %d validations; want 1 and 10", st.Reorgs, st.Validation.Count)
	}
	var inBuckets uint64
	for _, n := range st.Validation.Counts {
		inBuckets += n
	}
	if inBuckets != st.Validation.Count || st.Validation.Sum <= 0 {
		t.Errorf("validation histogram: %d in buckets, count %d, sum %g", inBuckets, st.Validation.Count, st.Validation.Sum)
	}
	select {
	case tip := <-tips:
		if tip.Hash != b6.Hash() || tip.Height != 6 {
			t.Errorf("tip event %s at height %d, want %s at 6", tip.Hash, tip.Height, b6.Hash())
		}
	default:
		t.Error("no tip event after the reorganisation")
	}

	onB := map[chain.Address]chain.Account{
		faucet:    genesisAccount,
		aliceAddr: {Balance: 50*chain.Coin - 21*chain.Coin, Nonce: 1},
		carol:     {Balance: 20 * chain.Coin},
		minerB:    {Balance: 5*50*chain.Coin + chain.Coin},
	}
	h.wantAccounts(onB)
	h.wantMain(h.genesis(), c1, b2, b3, b4, b5, b6)
	h.wantTxAt(a3.Txs[1], nil)
	h.wantTxAt(b3.Txs[1], b3)
	h.wantDetached(a5, c2, a3, a4, a5)
	h.wantDetached(b5)
	if tip := h.verify(); tip.Hash != b6.Hash() {
		t.Errorf("Verify ends at %s, want %s", tip.Hash, b6.Hash())
	}
	// Seven regtest blocks of work 2 each.
	if work := h.c.Tip().Work; work.Int64() != 14 {
		t.Errorf("tip work %s, want 14", work)
	}
	// The losing blocks stay stored, so the chain can switch back to them.
	for _, b := range []*chain.Block{c2, a3, a4, a5} {
		got, err := h.st.Block(b.Hash())
		if err != nil || string(got.Bytes()) != string(b.Bytes()) {
			t.Errorf("losing block at height %d: %v", chaintest.Height(b), err)
		}
	}

	// A restarted node resumes at the same tip with the same work.
	h.reopen()
	h.wantTip(b6)
	if work := h.c.Tip().Work; work.Int64() != 14 {
		t.Errorf("tip work after reopen %s, want 14", work)
	}
	h.wantMain(h.genesis(), c1, b2, b3, b4, b5, b6)

	// A comes back with two more blocks: its stored blocks are connected
	// again (their undo data was deleted when they were disconnected) and
	// B's transfer is undone.
	a6 := chaintest.Mine(t, a5, minerA)
	a7 := chaintest.Mine(t, a6, minerA)
	h.accept(a6)
	h.wantTip(b6)
	h.accept(a7)
	h.wantTip(a7)
	onA[minerA] = chain.Account{Balance: 5*50*chain.Coin + 2*chain.Coin}
	h.wantAccounts(onA)
	h.wantMain(h.genesis(), c1, c2, a3, a4, a5, a6, a7)
	h.wantTxAt(a3.Txs[1], a3)
	h.wantTxAt(b3.Txs[1], nil)
	h.wantDetached(b6, b2, b3, b4, b5, b6)
	h.verify()
}

// drain empties a subscription, so the next event read is a new one.
func drain(tips <-chan chain.Tip) {
	for {
		select {
		case <-tips:
		default:
			return
		}
	}
}

// TestReorgToInvalidBranch offers a branch that has more work but breaks a
// stateful rule at its second block. Only connecting it can find that out;
// the chain must try, fail, mark the block and its descendants invalid, and
// return to the valid branch.
func TestReorgToInvalidBranch(t *testing.T) { onEachStore(t, testReorgToInvalidBranch) }

func testReorgToInvalidBranch(t *testing.T, h *harness) {
	alice, aliceAddr := chaintest.NewKey("alice")
	_, bob := chaintest.NewKey("bob")
	_, minerA := chaintest.NewKey("miner A")
	_, minerB := chaintest.NewKey("miner B")

	// genesis - c1 - a2 - a3
	//              \
	//               b2 - b3 (overspends) - b4 - b5
	c1 := chaintest.Mine(t, h.genesis(), aliceAddr)
	a2 := chaintest.Mine(t, c1, minerA)
	a3 := chaintest.Mine(t, a2, minerA)
	h.accept(c1, a2, a3)
	want := map[chain.Address]chain.Account{
		faucet:    {Balance: chain.FaucetAlloc},
		aliceAddr: {Balance: 50 * chain.Coin},
		minerA:    {Balance: 100 * chain.Coin},
	}

	b2 := chaintest.Mine(t, c1, minerB, chaintest.Transfer(alice, bob, 10*chain.Coin, 0, 0, nil))
	b3 := chaintest.Mine(t, b2, minerB, chaintest.Transfer(alice, bob, 1000*chain.Coin, 0, 1, nil))
	b4 := chaintest.Mine(t, b3, minerB)
	// b3 ties a3, so nothing has checked its transfer against balances yet.
	h.accept(b2, b3)
	h.wantTip(a3)

	err := h.process(b4)
	if chain.Code(err) != chain.ErrInsufficientFunds {
		t.Fatalf("ProcessBlock(b4): %v, want %s", err, chain.ErrInsufficientFunds)
	}
	h.wantTip(a3)
	h.wantAccounts(want)
	h.wantMain(h.genesis(), c1, a2, a3)
	h.verify()

	// Nothing may build on the invalid branch, before or after a restart:
	// b3's status is stored and b4's is derived from it when loading.
	b5 := chaintest.Mine(t, b4, minerB)
	if err := h.process(b5); chain.Code(err) != chain.ErrInvalidAncestor {
		t.Fatalf("block on b4: %v, want %s", err, chain.ErrInvalidAncestor)
	}
	h.reopen()
	h.wantTip(a3)
	if err := h.process(b5); chain.Code(err) != chain.ErrInvalidAncestor {
		t.Fatalf("block on b4 after reopen: %v, want %s", err, chain.ErrInvalidAncestor)
	}

	// b2 did nothing wrong: a valid branch through it still wins.
	b3v := chaintest.Mine(t, b2, minerB)
	b4v := chaintest.Mine(t, b3v, minerB)
	h.accept(b3v, b4v)
	h.wantTip(b4v)
	h.wantMain(h.genesis(), c1, b2, b3v, b4v)
	h.wantAccounts(map[chain.Address]chain.Account{
		faucet:    {Balance: chain.FaucetAlloc},
		aliceAddr: {Balance: 40 * chain.Coin, Nonce: 1},
		bob:       {Balance: 10 * chain.Coin},
		minerB:    {Balance: 150 * chain.Coin},
	})
	h.verify()
}

// TestFailedReorgKeepsFirstSeen: when a heavier branch fails, the chain goes
// back to the branch it was on, not to another branch of the same work that
// arrived later. Which of the two ties wins must not depend on chance (map
// order), so the scenario runs several times.
func TestFailedReorgKeepsFirstSeen(t *testing.T) {
	_, minerA := chaintest.NewKey("miner A")
	_, minerB := chaintest.NewKey("miner B")
	_, minerC := chaintest.NewKey("miner C")
	broke, _ := chaintest.NewKey("broke") // never funded
	_, bob := chaintest.NewKey("bob")
	for range 8 {
		h := newHarness(t)
		first := h.extend(h.genesis(), 2, minerA)
		h.extend(h.genesis(), 2, minerC) // same work, seen second
		b1 := chaintest.Mine(t, h.genesis(), minerB)
		b2 := chaintest.Mine(t, b1, minerB, chaintest.Transfer(broke, bob, 1, 0, 0, nil))
		b3 := chaintest.Mine(t, b2, minerB)
		h.accept(b1, b2)
		if err := h.process(b3); chain.Code(err) != chain.ErrInsufficientFunds {
			t.Fatalf("ProcessBlock(b3): %v, want %s", err, chain.ErrInsufficientFunds)
		}
		h.wantTip(first[1])
		h.verify()
	}
}

// TestEqualWorkKeepsFirstSeen: a competing block of equal work is stored but
// does not move the chain, also after a restart.
func TestEqualWorkKeepsFirstSeen(t *testing.T) { onEachStore(t, testEqualWorkKeepsFirstSeen) }

func testEqualWorkKeepsFirstSeen(t *testing.T, h *harness) {
	_, minerA := chaintest.NewKey("miner A")
	_, minerB := chaintest.NewKey("miner B")
	a := h.extend(h.genesis(), 3, minerA)
	b := h.extend(h.genesis(), 3, minerB)
	h.wantTip(a[2])
	if _, err := h.st.Block(b[2].Hash()); err != nil {
		t.Errorf("the equal-work block was not stored: %v", err)
	}
	h.reopen()
	h.wantTip(a[2])
	// One more block on either side decides; here B's.
	b4 := h.extend(b[2], 1, minerB)
	h.wantTip(b4[0])
	h.wantAccounts(map[chain.Address]chain.Account{
		faucet: {Balance: chain.FaucetAlloc},
		minerB: {Balance: 4 * 50 * chain.Coin},
	})
	h.verify()
}

// TestResumeAfterCrash leaves a store as a node that crashed between two of
// its transactions would, and checks that chain.New completes the work: each
// store transaction is atomic, but storing a block and moving the main chain
// to it are separate ones.
func TestResumeAfterCrash(t *testing.T) {
	_, minerA := chaintest.NewKey("miner A")
	_, minerB := chaintest.NewKey("miner B")
	g := chain.Regtest.Genesis
	a1 := chaintest.Mine(t, g, minerA)
	a2 := chaintest.Mine(t, a1, minerA)
	b1 := chaintest.Mine(t, g, minerB)
	b2 := chaintest.Mine(t, b1, minerB)
	b3 := chaintest.Mine(t, b2, minerB)

	tests := []struct {
		name  string
		crash func(t *testing.T, st *store.Store) // the writes that made it to disk
		main  []*chain.Block                      // the main chain chain.New must end with
	}{
		{"genesis stored, not connected", func(t *testing.T, st *store.Store) {
			putBlocks(t, st, g)
		}, []*chain.Block{g}},
		{"block stored, not connected", func(t *testing.T, st *store.Store) {
			newChain(t, st)
			putBlocks(t, st, a1)
		}, []*chain.Block{g, a1}},
		// B is stored and A's tip already disconnected when the node stops.
		{"reorganisation half done", func(t *testing.T, st *store.Store) {
			c := newChain(t, st)
			for _, b := range []*chain.Block{a1, a2} {
				if err := c.ProcessBlock(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			putBlocks(t, st, b1, b2, b3)
			undo, err := st.Undo(a2.Hash())
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Disconnect(chain.Update{Hash: a2.Hash(), Height: 2, Tip: a1.Hash(), Changes: undo}); err != nil {
				t.Fatal(err)
			}
		}, []*chain.Block{g, b1, b2, b3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			st, err := store.Open(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			tt.crash(t, st)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			h := harnessIn(t, dir)
			tip := tt.main[len(tt.main)-1]
			h.wantTip(tip)
			h.wantMain(tt.main...)
			h.verify()
			h.accept(chaintest.Mine(t, tip, minerA)) // and the chain goes on
		})
	}
}

// putBlocks stores blocks and index entries the way ProcessBlock does before
// it moves the main chain.
func putBlocks(t *testing.T, st *store.Store, blocks ...*chain.Block) {
	t.Helper()
	for _, b := range blocks {
		if err := st.PutBlock(chain.IndexEntry{Header: b.Header, Height: chaintest.Height(b)}, b.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
}
