package store_test

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/p2p"
	"github.com/hashforge/hashforge/store"
)

func open(t *testing.T, dir string, readOnly bool) *store.Store {
	t.Helper()
	s, err := store.Open(dir, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// contract is what the store promises, and the tests below check, of both
// of its implementations: the chain's store, what chain.Verify reads, and
// the peer book p2p keeps.
type contract interface {
	chain.Store
	chain.VerifyStore
	p2p.Book
}

var (
	_ contract = (*store.Store)(nil)
	_ contract = (*store.Memory)(nil)
)

// stores are the implementations of the contract. open returns an empty
// store and a function that opens it again, as a restarted node does; a
// store in memory lives on as it is.
var stores = []struct {
	name string
	open func(t *testing.T) (s contract, reopen func() contract)
}{
	{"bbolt", func(t *testing.T) (contract, func() contract) {
		dir := t.TempDir()
		open := func() *store.Store {
			s, err := store.Open(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		s := open()
		t.Cleanup(func() { s.Close() }) // the one open when the test ends
		return s, func() contract {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open()
			return s
		}
	}},
	{"memory", func(*testing.T) (contract, func() contract) {
		s := store.NewMemory()
		return s, func() contract { return s }
	}},
}

// eachStore runs test as a subtest on an empty store of every kind.
func eachStore(t *testing.T, test func(t *testing.T, s contract, reopen func() contract)) {
	for _, kind := range stores {
		t.Run(kind.name, func(t *testing.T) {
			s, reopen := kind.open(t)
			test(t, s, reopen)
		})
	}
}

// A datadir serves one node: a second writer is told so instead of waiting.
func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, false)
	if _, err := store.Open(dir, false); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestReadOnlyOpenNeedsAStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	if _, err := store.Open(dir, true); err == nil {
		t.Fatal("read-only open of a missing store succeeded")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("read-only open created %s", dir)
	}
}

// Connect writes every change's New and the undo data; Disconnect writes
// every Old back, deleting accounts that return to zero, and moves the tip.
func TestConnectDisconnect(t *testing.T) { eachStore(t, testConnectDisconnect) }

func testConnectDisconnect(t *testing.T, s contract, _ func() contract) {
	g := chain.Regtest.Genesis
	gh := g.Hash()
	if err := s.PutBlock(chain.IndexEntry{Header: g.Header}, g.Bytes()); err != nil {
		t.Fatal(err)
	}
	a, b := chain.Address{1}, chain.Address{2}
	u := chain.Update{Hash: gh, Height: 0, Tip: gh, Changes: []chain.AccountChange{
		{Address: a, Old: chain.Account{}, New: chain.Account{Balance: 7}},
		{Address: b, Old: chain.Account{Balance: 5, Nonce: 1}, New: chain.Account{Balance: 9, Nonce: 2}},
	}}
	if err := s.Connect(u); err != nil {
		t.Fatal(err)
	}
	if tip, _ := s.Tip(); tip != gh {
		t.Fatalf("tip %s, want %s", tip, gh)
	}
	if h, ok, _ := s.MainHash(0); !ok || h != gh {
		t.Fatalf("main[0] = %s %v", h, ok)
	}
	undo, err := s.Undo(gh)
	if err != nil || len(undo) != 2 || undo[1] != u.Changes[1] {
		t.Fatalf("undo = %+v, %v", undo, err)
	}
	if acc, _ := s.Account(b); acc != u.Changes[1].New {
		t.Fatalf("account b = %+v", acc)
	}

	if err := s.Disconnect(chain.Update{Hash: gh, Height: 0, Tip: chain.Hash{}, Changes: undo}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.MainHash(0); ok {
		t.Fatal("main[0] survives disconnect")
	}
	if _, err := s.Undo(gh); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("undo after disconnect: %v", err)
	}
	accounts := map[chain.Address]chain.Account{}
	s.ForEachAccount(func(addr chain.Address, acc chain.Account) error {
		accounts[addr] = acc
		return nil
	})
	if len(accounts) != 1 || accounts[b] != u.Changes[1].Old {
		t.Fatalf("accounts after disconnect = %+v, want only b at its old state", accounts)
	}
	// The block itself stays stored: disconnected blocks may come back.
	if blk, err := s.Block(gh); err != nil || blk.Hash() != gh {
		t.Fatalf("block after disconnect: %v", err)
	}
}

// ConnectBlocks stores and connects a run as PutBlock and Connect of each
// block would: blocks, index entries, main chain, undo data, transaction
// index, accounts as the last block left them, and the run's tip.
func TestConnectBlocks(t *testing.T) { eachStore(t, testConnectBlocks) }

func testConnectBlocks(t *testing.T, s contract, _ func() contract) {
	miner := chain.Address{7}
	putGenesis(t, s)
	run, parent := minedRun(t, chain.Regtest.Genesis, 3, miner)
	if err := s.ConnectBlocks(run); err != nil {
		t.Fatal(err)
	}
	for _, bu := range run {
		u := bu.Update
		if blk, err := s.Block(u.Hash); err != nil || blk.Hash() != u.Hash {
			t.Errorf("block at height %d: %v", u.Height, err)
		}
		if h, ok, _ := s.MainHash(u.Height); !ok || h != u.Hash {
			t.Errorf("main[%d] = %s %v, want %s", u.Height, h, ok, u.Hash)
		}
		if undo, err := s.Undo(u.Hash); err != nil || !slices.Equal(undo, u.Changes) {
			t.Errorf("undo at height %d = %+v, %v", u.Height, undo, err)
		}
		if at, ok, _ := s.TxBlock(u.Txs[0]); !ok || at != u.Hash {
			t.Errorf("coinbase at height %d indexed under %s %v", u.Height, at, ok)
		}
	}
	n := 0
	s.LoadIndex(func(chain.IndexEntry) error { n++; return nil })
	if n != len(run)+1 {
		t.Errorf("index holds %d entries, want genesis and %d", n, len(run))
	}
	if tip, _ := s.Tip(); tip != parent.Hash() {
		t.Errorf("tip %s, want %s", tip, parent.Hash())
	}
	if acc, _ := s.Account(miner); acc.Balance != 300 {
		t.Errorf("miner account %+v, want the last block's", acc)
	}

	// Disconnecting the run's tip takes back what connecting it wrote.
	last := run[len(run)-1].Update
	if err := s.Disconnect(chain.Update{Hash: last.Hash, Height: last.Height, Tip: run[len(run)-2].Update.Hash,
		Changes: last.Changes, Txs: last.Txs}); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := s.TxBlock(last.Txs[0]); ok {
		t.Errorf("disconnected coinbase still indexed under %s", at)
	}
	if _, ok, _ := s.MainHash(last.Height); ok {
		t.Errorf("main[%d] survives disconnect", last.Height)
	}
	if tip, _ := s.Tip(); tip != run[len(run)-2].Update.Hash {
		t.Errorf("tip %s after disconnect, want %s", tip, run[len(run)-2].Update.Hash)
	}
	if acc, _ := s.Account(miner); acc.Balance != 200 {
		t.Errorf("miner account %+v after disconnect, want the block before's", acc)
	}
}

func TestSetStatus(t *testing.T) { eachStore(t, testSetStatus) }

func testSetStatus(t *testing.T, s contract, _ func() contract) {
	g := chain.Regtest.Genesis
	if err := s.SetStatus(g.Hash(), chain.StatusInvalid); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("status of unknown block: %v", err)
	}
	s.PutBlock(chain.IndexEntry{Header: g.Header}, g.Bytes())
	if err := s.SetStatus(g.Hash(), chain.StatusInvalid); err != nil {
		t.Fatal(err)
	}
	var got []chain.IndexEntry
	s.LoadIndex(func(e chain.IndexEntry) error { got = append(got, e); return nil })
	if len(got) != 1 || got[0].Status != chain.StatusInvalid {
		t.Fatalf("index = %+v", got)
	}
}

// The peer book survives a reopen, so a restarted node dials its peers.
func TestPeerBook(t *testing.T) { eachStore(t, testPeerBook) }

func testPeerBook(t *testing.T, s contract, reopen func() contract) {
	for _, a := range []string{"127.0.0.1:8999", "[::1]:9000", "127.0.0.1:8999"} {
		if err := s.PutPeer(a, time.Unix(1_800_000_000, 0)); err != nil {
			t.Fatal(err)
		}
	}
	s = reopen()
	got, err := s.Peers()
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"127.0.0.1:8999", "[::1]:9000"}) {
		t.Fatalf("peers = %v, %v", got, err)
	}
}

// putGenesis stores the regtest genesis block, as the parent of a run.
func putGenesis(t *testing.T, s contract) {
	t.Helper()
	g := chain.Regtest.Genesis
	if err := s.PutBlock(chain.IndexEntry{Header: g.Header}, g.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// minedRun mines n blocks in a row on parent, each paying miner 100 more
// than the one before, as a run for ConnectBlocks, and returns the last.
func minedRun(t *testing.T, parent *chain.Block, n int, miner chain.Address) ([]chain.BlockUpdate, *chain.Block) {
	t.Helper()
	var run []chain.BlockUpdate
	for range n {
		b := chaintest.Mine(t, parent, miner)
		h := chaintest.Height(b)
		old := chain.Account{Balance: (h - 1) * 100}
		run = append(run, chain.BlockUpdate{
			Entry: chain.IndexEntry{Header: b.Header, Height: h},
			Raw:   b.Bytes(),
			Update: chain.Update{Hash: b.Hash(), Height: h, Tip: b.Hash(), Txs: b.TxHashes(),
				Changes: []chain.AccountChange{{Address: miner, Old: old, New: chain.Account{Balance: h * 100}}}},
		})
		parent = b
	}
	return run, parent
}

// An empty store holds nothing: the zero tip, unknown blocks and undo data
// are ErrNotFound, and every account is the zero Account.
func TestEmptyStore(t *testing.T) { eachStore(t, testEmptyStore) }

func testEmptyStore(t *testing.T, s contract, _ func() contract) {
	h := chain.Regtest.Genesis.Hash()
	if tip, err := s.Tip(); err != nil || !tip.IsZero() {
		t.Errorf("tip = %s, %v; want the zero hash", tip, err)
	}
	if _, err := s.Block(h); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Block: %v, want ErrNotFound", err)
	}
	if _, err := s.Undo(h); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Undo: %v, want ErrNotFound", err)
	}
	if got, ok, err := s.MainHash(0); ok || err != nil {
		t.Errorf("MainHash(0) = %s, %v, %v", got, ok, err)
	}
	if got, ok, err := s.TxBlock(h); ok || err != nil {
		t.Errorf("TxBlock = %s, %v, %v", got, ok, err)
	}
	if acc, err := s.Account(chain.Address{1}); acc != (chain.Account{}) || err != nil {
		t.Errorf("Account = %+v, %v", acc, err)
	}
	calls := 0
	s.LoadIndex(func(chain.IndexEntry) error { calls++; return nil })
	s.ForEachAccount(func(chain.Address, chain.Account) error { calls++; return nil })
	if peers, err := s.Peers(); len(peers) != 0 || err != nil {
		t.Errorf("Peers = %v, %v", peers, err)
	}
	if calls != 0 {
		t.Errorf("%d index entries and accounts in an empty store", calls)
	}
}

// LoadIndex and ForEachAccount go in the order of their keys' bytes, may
// read the store from their callbacks, and stop at a callback's error,
// which they return.
func TestIterationOrder(t *testing.T) { eachStore(t, testIterationOrder) }

func testIterationOrder(t *testing.T, s contract, _ func() contract) {
	putGenesis(t, s)
	run, _ := minedRun(t, chain.Regtest.Genesis, 6, chain.Address{7})
	var changes []chain.AccountChange
	for i := range 6 {
		changes = append(changes, chain.AccountChange{Address: chain.Address{byte(200 - 30*i), byte(i)}, New: chain.Account{Balance: 1}})
	}
	run[0].Update.Changes = changes
	if err := s.ConnectBlocks(run); err != nil {
		t.Fatal(err)
	}
	var hashes []chain.Hash
	if err := s.LoadIndex(func(e chain.IndexEntry) error {
		h := e.Header.Hash()
		if b, err := s.Block(h); err != nil || b.Hash() != h {
			t.Errorf("Block(%s) inside LoadIndex: %v", h, err)
		}
		hashes = append(hashes, h)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(hashes) != 7 || !slices.IsSortedFunc(hashes, func(a, b chain.Hash) int { return slices.Compare(a[:], b[:]) }) {
		t.Errorf("LoadIndex gave %d entries in this order: %v", len(hashes), hashes)
	}
	var addrs []chain.Address
	s.ForEachAccount(func(a chain.Address, _ chain.Account) error {
		if _, err := s.Account(a); err != nil {
			t.Errorf("Account(%s) inside ForEachAccount: %v", a, err)
		}
		addrs = append(addrs, a)
		return nil
	})
	if len(addrs) != 7 || !slices.IsSortedFunc(addrs, func(a, b chain.Address) int { return slices.Compare(a[:], b[:]) }) {
		t.Errorf("ForEachAccount gave %d accounts in this order: %v", len(addrs), addrs)
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.LoadIndex(func(chain.IndexEntry) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("LoadIndex with a failing callback: %v after %d calls", err, calls)
	}
	calls = 0
	if err := s.ForEachAccount(func(chain.Address, chain.Account) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("ForEachAccount with a failing callback: %v after %d calls", err, calls)
	}
}

// A store shares nothing mutable with its callers: what they hand it and
// what it hands them can change afterwards without changing the store.
func TestNothingShared(t *testing.T) { eachStore(t, testNothingShared) }

func testNothingShared(t *testing.T, s contract, _ func() contract) {
	key, from := chaintest.NewKey("alice")
	b := chaintest.Mine(t, chain.Regtest.Genesis, from, chaintest.Transfer(key, chain.Address{9}, 1, 1, 0, []byte("memo")))
	h := b.Hash()
	raw := b.Bytes()
	want := string(raw)
	if err := s.PutBlock(chain.IndexEntry{Header: b.Header, Height: 1}, raw); err != nil {
		t.Fatal(err)
	}
	clear(raw)
	changes := []chain.AccountChange{{Address: from, New: chain.Account{Balance: 5}}}
	if err := s.Connect(chain.Update{Hash: h, Height: 1, Tip: h, Changes: changes, Txs: b.TxHashes()}); err != nil {
		t.Fatal(err)
	}
	changes[0].New.Balance = 6

	got, err := s.Block(h)
	if err != nil || string(got.Bytes()) != want {
		t.Fatalf("Block after the caller reused its bytes: %v", err)
	}
	got.Txs[1].Memo[0] = 'M'
	got.Txs[1].Amount = 1000
	got.Txs = got.Txs[:1]
	if again, err := s.Block(h); err != nil || string(again.Bytes()) != want {
		t.Errorf("Block after the caller changed the block it read: %v", err)
	}
	undo, err := s.Undo(h)
	if err != nil || len(undo) != 1 || undo[0].New.Balance != 5 {
		t.Fatalf("undo = %+v, %v; want the changes as they were connected", undo, err)
	}
	undo[0].New.Balance = 7
	if again, _ := s.Undo(h); again[0].New.Balance != 5 {
		t.Errorf("undo after the caller changed it: %+v", again)
	}
	if acc, _ := s.Account(from); acc.Balance != 5 {
		t.Errorf("account %+v, want the change as it was connected", acc)
	}
}

// ConnectBlocks refuses a run that does not join the stored blocks or
// breaks off midway, and then leaves nothing of it: no block, index entry,
// main-chain height, undo data, transaction or account change, and the
// same tip.
func TestConnectBlocksRefused(t *testing.T) {
	miner := chain.Address{7}
	tests := []struct {
		name  string
		store bool // genesis, the run's parent
		spoil func(run []chain.BlockUpdate) []chain.BlockUpdate
		want  error
	}{
		{"parent not stored", false, func(run []chain.BlockUpdate) []chain.BlockUpdate { return run }, store.ErrNotFound},
		{"a block not on the one before", true, func(run []chain.BlockUpdate) []chain.BlockUpdate {
			return append(run[:2], run[3:]...)
		}, store.ErrBadRun},
		{"the last block not on the one before", true, func(run []chain.BlockUpdate) []chain.BlockUpdate {
			run[3], run[4] = run[4], run[3]
			return run
		}, store.ErrBadRun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, s contract, _ func() contract) {
				g := chain.Regtest.Genesis
				if tt.store {
					putGenesis(t, s)
					if err := s.Connect(chain.Update{Hash: g.Hash(), Tip: g.Hash(), Txs: g.TxHashes(),
						Changes: []chain.AccountChange{{Address: miner, New: chain.Account{Balance: 0, Nonce: 1}}}}); err != nil {
						t.Fatal(err)
					}
				}
				before := snapshot(t, s)
				run, _ := minedRun(t, g, 5, miner)
				run = tt.spoil(run)
				if err := s.ConnectBlocks(run); !errors.Is(err, tt.want) {
					t.Fatalf("ConnectBlocks: %v, want %v", err, tt.want)
				}
				if after := snapshot(t, s); !after.equal(before) {
					t.Errorf("a refused run changed the store:\nbefore %+v\nafter  %+v", before, after)
				}
				for _, bu := range run {
					u := bu.Update
					if _, err := s.Block(u.Hash); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("block at height %d of the refused run: %v", u.Height, err)
					}
					if _, err := s.Undo(u.Hash); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("undo data at height %d of the refused run: %v", u.Height, err)
					}
					if at, ok, _ := s.TxBlock(u.Txs[0]); ok {
						t.Errorf("coinbase at height %d of the refused run indexed under %s", u.Height, at)
					}
				}
			})
		})
	}
}

// contents is everything a store holds but undo data and the transaction
// index, which a test checks by the hashes it knows.
type contents struct {
	tip      chain.Hash
	index    []chain.IndexEntry
	main     []chain.Hash
	accounts map[chain.Address]chain.Account
}

func snapshot(t *testing.T, s contract) contents {
	t.Helper()
	c := contents{accounts: map[chain.Address]chain.Account{}}
	var err error
	if c.tip, err = s.Tip(); err != nil {
		t.Fatal(err)
	}
	if err := s.LoadIndex(func(e chain.IndexEntry) error { c.index = append(c.index, e); return nil }); err != nil {
		t.Fatal(err)
	}
	for height := uint64(0); ; height++ {
		h, ok, err := s.MainHash(height)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		c.main = append(c.main, h)
	}
	if err := s.ForEachAccount(func(a chain.Address, acc chain.Account) error { c.accounts[a] = acc; return nil }); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c contents) equal(d contents) bool {
	return c.tip == d.tip && slices.Equal(c.index, d.index) && slices.Equal(c.main, d.main) && maps.Equal(c.accounts, d.accounts)
}

// A full peer book forgets the peer seen longest ago to make room; a peer
// it holds is seen again without forgetting another.
func TestPeerBookBound(t *testing.T) { eachStore(t, testPeerBookBound) }

func testPeerBookBound(t *testing.T, s contract, _ func() contract) {
	const full = 1000
	base := time.Unix(1_800_000_000, 0)
	for i := range full {
		// Peers 500 and 600 were seen longest ago, at the same moment:
		// the first by address goes.
		seen := base.Add(time.Duration(i) * time.Second)
		if i == 500 || i == 600 {
			seen = base.Add(-time.Hour)
		}
		if err := s.PutPeer(fmt.Sprintf("10.0.%d.%d:8999", i/256, i%256), seen); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutPeer("10.0.0.0:8999", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if peers, _ := s.Peers(); len(peers) != full {
		t.Fatalf("%d peers after one was seen again, want %d", len(peers), full)
	}
	if err := s.PutPeer("192.0.2.1:8999", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	peers, err := s.Peers()
	if err != nil || len(peers) != full {
		t.Fatalf("%d peers, %v; want %d", len(peers), err, full)
	}
	// 10.0.1.244 is peer 500, 10.0.2.88 peer 600.
	if slices.Contains(peers, "10.0.1.244:8999") || !slices.Contains(peers, "10.0.2.88:8999") || !slices.Contains(peers, "192.0.2.1:8999") {
		t.Errorf("the full book kept the wrong peers")
	}
	if !slices.IsSorted(peers) {
		t.Errorf("Peers are not in order")
	}
}
