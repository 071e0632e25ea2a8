package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
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
func TestConnectDisconnect(t *testing.T) {
	s := open(t, t.TempDir(), false)
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
func TestConnectBlocks(t *testing.T) {
	s := open(t, t.TempDir(), false)
	miner := chain.Address{7}
	var run []chain.BlockUpdate
	parent := chain.Regtest.Genesis
	for h := uint64(1); h <= 3; h++ {
		b := chaintest.Mine(t, parent, miner)
		old := chain.Account{Balance: (h - 1) * 100}
		run = append(run, chain.BlockUpdate{
			Entry: chain.IndexEntry{Header: b.Header, Height: h},
			Raw:   b.Bytes(),
			Update: chain.Update{Hash: b.Hash(), Height: h, Tip: b.Hash(), Txs: b.TxHashes(),
				Changes: []chain.AccountChange{{Address: miner, Old: old, New: chain.Account{Balance: h * 100}}}},
		})
		parent = b
	}
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
	if n != len(run) {
		t.Errorf("index holds %d entries, want %d", n, len(run))
	}
	if tip, _ := s.Tip(); tip != parent.Hash() {
		t.Errorf("tip %s, want %s", tip, parent.Hash())
	}
	if acc, _ := s.Account(miner); acc.Balance != 300 {
		t.Errorf("miner account %+v, want the last block's", acc)
	}
}

func TestSetStatus(t *testing.T) {
	s := open(t, t.TempDir(), false)
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
func TestPeerBook(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"127.0.0.1:8999", "[::1]:9000", "127.0.0.1:8999"} {
		if err := s.PutPeer(a, time.Unix(1_800_000_000, 0)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open(t, dir, false)
	got, err := s.Peers()
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"127.0.0.1:8999", "[::1]:9000"}) {
		t.Fatalf("peers = %v, %v", got, err)
	}
}
