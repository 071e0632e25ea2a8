package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/store"
)

// mined is a store that a chain of blocks was written to and closed cleanly.
type mined struct {
	dir    string
	path   string
	blocks []*chain.Block // the main chain, genesis first
}

// mine writes genesis and n blocks, the second with a transfer, to a new
// store and closes it.
func mine(t *testing.T, n int) *mined {
	t.Helper()
	m := &mined{dir: t.TempDir()}
	m.path = filepath.Join(m.dir, store.FileName)
	_, alice := chaintest.NewKey("alice")
	m.blocks = []*chain.Block{chain.Regtest.Genesis}
	for i := range n {
		var txs []*chain.Tx
		if i == 1 {
			txs = append(txs, chaintest.Transfer(chain.FaucetKey(), alice, 5*chain.Coin, 1000, 0, []byte("hi")))
		}
		m.blocks = append(m.blocks, chaintest.Mine(t, m.blocks[len(m.blocks)-1], alice, txs...))
	}
	m.add(t, m.blocks[1:]...)
	return m
}

// add opens the store, passes blocks to its chain and closes it cleanly.
func (m *mined) add(t *testing.T, blocks ...*chain.Block) {
	t.Helper()
	c, st := chaintest.OpenChain(t, m.dir)
	defer st.Close()
	for _, b := range blocks {
		if err := c.ProcessBlock(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

// edit changes the file with bbolt directly, as a tool other than the store would.
func (m *mined) edit(t *testing.T, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(m.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// patch writes b at off in the file.
func (m *mined) patch(t *testing.T, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(m.path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// flipRecord flips a byte of every copy of the record of block h in the
// file and returns how many copies it found.
func (m *mined) flipRecord(t *testing.T, bucket string, h chain.Hash) int {
	t.Helper()
	var rec []byte
	m.edit(t, func(tx *bolt.Tx) error {
		rec = bytes.Clone(tx.Bucket([]byte(bucket)).Get(h[:]))
		return nil
	})
	file, err := os.ReadFile(m.path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for off := 0; ; n++ {
		i := bytes.Index(file[off:], rec)
		if i < 0 {
			break
		}
		m.patch(t, int64(off+i+len(rec)-1), []byte{rec[len(rec)-1] ^ 0x20})
		off += i + 1
	}
	return n
}

// damaged requires a *DamageError naming the file and what.
func damaged(t *testing.T, err error, path, what string) {
	t.Helper()
	d, ok := errors.AsType[*store.DamageError](err)
	if !ok || !errors.Is(err, store.ErrDamaged) || d.Path != path || !strings.Contains(err.Error(), what) {
		t.Fatalf("error %v: want a *DamageError for %s saying %q", err, path, what)
	}
}

// TestOpenRefusesDamage: each kind of damage is refused by Open, for the
// node and for verify alike, naming what is wrong, and nothing is written.
func TestOpenRefusesDamage(t *testing.T) {
	const pageSize = 4096
	says := func(s string) func(*mined) string { return func(*mined) string { return s } }
	tests := []struct {
		name   string
		damage func(t *testing.T, m *mined)
		want   func(m *mined) string
	}{
		{"empty", func(t *testing.T, m *mined) { os.Truncate(m.path, 0) }, says("empty")},
		{"cut short", func(t *testing.T, m *mined) { os.Truncate(m.path, 5*pageSize) }, says("cut short")},
		{"not whole pages", func(t *testing.T, m *mined) {
			fi, _ := os.Stat(m.path)
			m.patch(t, fi.Size(), []byte{1})
		}, says("whole number")},
		{"meta 0 zeroed", func(t *testing.T, m *mined) { m.patch(t, 0, make([]byte, pageSize)) }, says("meta page 0: not a bbolt meta page")},
		{"meta 1 flipped", func(t *testing.T, m *mined) { m.patch(t, pageSize+16+50, []byte{0xff}) }, says("meta page 1: checksum")},
		{"both metas zeroed", func(t *testing.T, m *mined) { m.patch(t, 0, make([]byte, 2*pageSize)) }, says("no valid meta page")},
		{"block record flipped", func(t *testing.T, m *mined) { m.flipRecord(t, "blocks", m.blocks[2].Hash()) },
			func(m *mined) string { return "block " + m.blocks[2].Hash().String() + ": checksum mismatch" }},
		{"undo record deleted", func(t *testing.T, m *mined) {
			m.edit(t, func(tx *bolt.Tx) error { h := m.blocks[3].Hash(); return tx.Bucket([]byte("undo")).Delete(h[:]) })
		}, func(m *mined) string {
			return "undo data of block " + m.blocks[3].Hash().String() + " (main-chain height 3) is missing"
		}},
		{"index entry moved", func(t *testing.T, m *mined) {
			m.edit(t, func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte("index"))
				h1, h2 := m.blocks[1].Hash(), m.blocks[2].Hash()
				return b.Put(h1[:], bytes.Clone(b.Get(h2[:])))
			})
		}, func(m *mined) string {
			return "index entry of block " + m.blocks[1].Hash().String() + ": checksum mismatch"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mine(t, 4)
			tt.damage(t, m)
			want := tt.want(m)
			before, _ := os.ReadFile(m.path)
			for _, readOnly := range []bool{true, false} {
				st, err := store.Open(m.dir, readOnly)
				if err == nil {
					st.Close()
				}
				damaged(t, err, m.path, want)
			}
			if after, _ := os.ReadFile(m.path); !bytes.Equal(before, after) {
				t.Error("a refused open changed the file")
			}
			if err := store.Advise(store.ErrDamaged, "regtest", m.dir); !strings.Contains(err.Error(), "miner reindex --network regtest --datadir "+m.dir) {
				t.Errorf("advice %q does not name the command", err)
			}
		})
	}
}

// A clean close leaves a marker that spares the next open the full check,
// but only for the file as it was closed; a read that meets damage is an
// error naming the block, and the store then leaves no marker behind.
func TestCleanShutdownMarker(t *testing.T) {
	m := mine(t, 4)
	if _, err := os.Stat(m.path + ".clean"); err != nil {
		t.Fatalf("no marker after a clean close: %v", err)
	}
	fi, _ := os.Stat(m.path)
	h := m.blocks[2].Hash()
	m.flipRecord(t, "blocks", h)
	// Damage that keeps the file's time, as the disk's own does.
	os.Chtimes(m.path, fi.ModTime(), fi.ModTime())
	st, err := store.Open(m.dir, false)
	if err != nil {
		t.Fatalf("open with a matching marker: %v", err)
	}
	_, err = st.Block(h)
	damaged(t, err, m.path, "block "+h.String()+": checksum mismatch")
	if _, err := st.Block(m.blocks[3].Hash()); err != nil {
		t.Errorf("a block elsewhere: %v", err)
	}
	st.Close()
	if _, err := os.Stat(m.path + ".clean"); !os.IsNotExist(err) {
		t.Fatalf("marker after a close that met damage: %v", err)
	}
	_, err = store.Open(m.dir, false)
	damaged(t, err, m.path, "checksum mismatch")
}

// A page bbolt reads through its memory map after the file was cut short
// under it raises SIGBUS; the read is an error, and the process lives.
func TestReadFaultIsAnError(t *testing.T) {
	m := mine(t, 30)
	st, err := store.Open(m.dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := os.Truncate(m.path, 2*4096); err != nil {
		t.Fatal(err)
	}
	var errs []error
	for _, b := range m.blocks {
		if _, err := st.Block(b.Hash()); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		t.Fatal("every block read from a file cut to its meta pages")
	}
	t.Logf("%d of %d reads failed; the first: %v", len(errs), len(m.blocks), errs[0])
	damaged(t, errs[0], m.path, "reading the file failed")
}

// A store from before checksummed records is refused with ErrFormat, and
// Reindex rebuilds it from its bare blocks.
func TestFormat1(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, store.FileName)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	blocks := []*chain.Block{chain.Regtest.Genesis}
	for range 3 {
		blocks = append(blocks, chaintest.Mine(t, blocks[len(blocks)-1], chain.Address{1}))
	}
	db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("blocks"))
		for _, blk := range blocks {
			h := blk.Hash()
			err = errors.Join(err, b.Put(h[:], blk.Bytes()))
		}
		return err
	})
	db.Close()
	_, err = store.Open(dir, false)
	if !errors.Is(err, store.ErrFormat) || !strings.Contains(store.Advise(err, "regtest", dir).Error(), "miner reindex") {
		t.Fatalf("open a format 1 store: %v, want ErrFormat with advice", err)
	}
	r, err := store.Reindex(context.Background(), chain.Regtest, dir, slog.New(slog.DiscardHandler))
	if err != nil || r.Tip.Height != 3 || r.Found != 4 || r.Skipped != 0 {
		t.Fatalf("reindex: %+v, %v", r, err)
	}
}
