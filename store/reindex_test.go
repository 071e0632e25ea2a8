package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/store"
)

func reindex(t *testing.T, p *chain.Params, dir string) (store.ReindexReport, error) {
	t.Helper()
	return store.Reindex(context.Background(), p, dir, slog.New(slog.DiscardHandler))
}

// verified requires the store in dir to open and verify at height.
func verified(t *testing.T, dir string, height uint64) {
	t.Helper()
	st, err := store.Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tip, err := chain.Verify(context.Background(), chain.Regtest, st, nil)
	if err != nil || tip.Height != height {
		t.Fatalf("verify after reindex: height %d, %v; want %d", tip.Height, err, height)
	}
}

// Reindex rebuilds a store whose meta pages are both lost and one of whose
// blocks is damaged in every copy: the chain up to that block, with the
// state its replay gives; the blocks above it are left out, and the old
// file is kept as it was.
func TestReindex(t *testing.T) {
	m := mine(t, 20)
	if n := m.flipRecord(t, "blocks", m.blocks[10].Hash()); n == 0 {
		t.Fatal("block 10's record not found in the file")
	}
	m.patch(t, 0, make([]byte, 2*4096))
	old, _ := os.ReadFile(m.path)

	r, err := reindex(t, chain.Regtest, m.dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Tip.Hash != m.blocks[9].Hash() || r.Found != 20 || r.Skipped != 10 {
		t.Errorf("report %+v: want tip %s at height 9, 20 blocks found, 10 left out", r, m.blocks[9].Hash())
	}
	if kept, _ := os.ReadFile(r.Kept); !bytes.Equal(kept, old) || !strings.HasPrefix(r.Kept, m.path+".damaged-") {
		t.Errorf("old file kept as %q: not the file as it was", r.Kept)
	}
	verified(t, m.dir, 9)
}

// Blocks off the main chain come back too, and the branch with the most
// work wins again.
func TestReindexKeepsBranches(t *testing.T) {
	m := mine(t, 6)
	side := chaintest.Mine(t, m.blocks[3], chain.Address{9})
	m.add(t, side)
	r, err := reindex(t, chain.Regtest, m.dir)
	if err != nil || r.Tip.Hash != m.blocks[6].Hash() || r.Found != 8 || r.Skipped != 0 {
		t.Fatalf("report %+v, %v: want tip %s, 8 blocks found, none left out", r, err, m.blocks[6].Hash())
	}
	st, err := store.Open(m.dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Block(side.Hash()); err != nil {
		t.Errorf("side block after reindex: %v", err)
	}
}

func TestReindexRefuses(t *testing.T) {
	m := mine(t, 2)
	st, err := store.Open(m.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reindex(t, chain.Regtest, m.dir); !errors.Is(err, store.ErrLocked) {
		t.Errorf("reindex of a store in use: %v, want ErrLocked", err)
	}
	st.Close()
	if _, err := reindex(t, chain.Devnet, m.dir); err == nil || !strings.Contains(err.Error(), "wrong --network") {
		t.Errorf("reindex as devnet of a regtest store: %v", err)
	}
	if _, err := os.Stat(m.path + ".reindex"); !os.IsNotExist(err) {
		t.Errorf("a failed reindex left its new file: %v", err)
	}
	verified(t, m.dir, 2)
}

// Damage that takes the genesis block and block 1 leaves nothing that
// connects: reindex still knows genesis, rebuilds the chain to it and
// leaves the rest out, where a wrong network would be refused.
func TestReindexGenesisLost(t *testing.T) {
	m := mine(t, 5)
	for _, b := range m.blocks[:2] {
		if n := m.flipRecord(t, "blocks", b.Hash()); n == 0 {
			t.Fatalf("block %s's record not found in the file", b.Hash())
		}
	}
	r, err := reindex(t, chain.Regtest, m.dir)
	if err != nil || r.Tip.Height != 0 || r.Found != 4 || r.Skipped != 4 {
		t.Fatalf("report %+v, %v: want genesis alone, 4 blocks found and left out", r, err)
	}
	verified(t, m.dir, 0)
}

// A datadir whose chain.db is gone gets a store holding genesis, which
// peers fill in.
func TestReindexMissingFile(t *testing.T) {
	dir := t.TempDir()
	r, err := reindex(t, chain.Regtest, dir)
	if err != nil || r.Tip.Height != 0 || r.Found != 0 || r.Kept != "" {
		t.Fatalf("report %+v, %v: want genesis alone and no old file", r, err)
	}
	verified(t, dir, 0)
}
