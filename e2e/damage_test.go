//go:build unix

package e2e

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hashforge/hashforge/store"
)

// layout is where an intact chain.db keeps what the damage cases aim at,
// found through bbolt and, for the root page, bbolt's meta page.
type layout struct {
	path       string
	file       []byte
	pageSize   int64
	pages      int64 // pages in use: the high-water mark
	root       int64 // the root bucket's page
	freelist   int64
	blocksRoot int64 // the blocks bucket's root page
}

// record is one stored record: the page in use that holds it, and the
// file offset of each copy of it, in use or left on freed pages.
type record struct {
	page   int64
	copies []int64
}

// view reads the intact file through bbolt, freelist loaded, so that
// tx.Page tells freed pages from pages in use.
func (l *layout) view(t *testing.T, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(l.path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(fn); err != nil {
		t.Fatal(err)
	}
}

func readLayout(t *testing.T, path string) *layout {
	t.Helper()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l := &layout{path: path, file: file, freelist: -1}
	l.view(t, func(tx *bolt.Tx) error {
		l.pageSize = int64(tx.DB().Info().PageSize)
		l.pages = tx.Size() / l.pageSize
		// bbolt's meta page: a 16-byte page header, then magic, version,
		// page size, flags (4 bytes each), the root bucket's page (8), its
		// sequence, the freelist, the high-water mark, the transaction id.
		for i := range int64(2) {
			m := file[i*l.pageSize+16:]
			if binary.LittleEndian.Uint64(m[48:]) == uint64(tx.ID()) {
				l.root = int64(binary.LittleEndian.Uint64(m[16:]))
			}
		}
		for id := range int(l.pages) {
			if info, _ := tx.Page(id); info != nil && info.Type == "freelist" {
				l.freelist = int64(id)
			}
		}
		l.blocksRoot = int64(tx.Bucket(bucketBlocks).Root())
		return nil
	})
	if l.root < 2 || l.freelist < 2 || l.blocksRoot < 2 {
		t.Fatalf("layout %+v: want the root, the freelist and the blocks bucket each on a page of its own", l)
	}
	return l
}

// record finds the record at key in bucket.
func (l *layout) record(t *testing.T, bucket, key []byte) record {
	t.Helper()
	r := record{page: -1}
	l.view(t, func(tx *bolt.Tx) error {
		rec := tx.Bucket(bucket).Get(key)
		for off := 0; ; {
			i := bytes.Index(l.file[off:], rec)
			if i < 0 {
				break
			}
			at := int64(off + i)
			r.copies = append(r.copies, at)
			if info, _ := tx.Page(int(at / l.pageSize)); info != nil && info.Type == "leaf" {
				r.page = at / l.pageSize
			}
			off += i + 1
		}
		return nil
	})
	if r.page < 0 {
		t.Fatalf("%s record %x: not found on a page in use", bucket, key)
	}
	return r
}

// A damage changes a copy of chain.db.
type damage func(t *testing.T, path string)

func editFile(edit func(f *os.File) error) damage {
	return func(t *testing.T, path string) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := edit(f); err != nil {
			t.Fatal(err)
		}
	}
}

func truncate(size int64) damage {
	return editFile(func(f *os.File) error { return f.Truncate(size) })
}

func zeroPages(l *layout, ids ...int64) damage {
	return editFile(func(f *os.File) error {
		for _, id := range ids {
			if _, err := f.WriteAt(make([]byte, l.pageSize), id*l.pageSize); err != nil {
				return err
			}
		}
		return nil
	})
}

// flip flips one bit of the byte at each offset: what a failing disk or
// a cosmic ray does.
func flip(l *layout, offs ...int64) damage {
	return editFile(func(f *os.File) error {
		for _, off := range offs {
			if _, err := f.WriteAt([]byte{l.file[off] ^ 0x10}, off); err != nil {
				return err
			}
		}
		return nil
	})
}

// flipValues flips a byte inside the value of every copy of a record.
func flipValues(l *layout, r record) damage {
	var offs []int64
	for _, c := range r.copies {
		offs = append(offs, c+4+8) // past the checksum
	}
	return flip(l, offs...)
}

// copyDatadir copies a stopped node's datadir to a new one.
func copyDatadir(t *testing.T, src string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	// CopyFS makes files readable by all; the node refuses such a key.
	if err := os.Chmod(filepath.Join(dir, "node.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// refused requires a command that failed as it must on a damaged datadir:
// exit status 1 (a process a signal ends has none), a message naming the
// datadir and what is wrong, and no sign of a crash.
func refused(t *testing.T, who string, r result, dir, want string) {
	t.Helper()
	for _, crash := range []string{"panic", "goroutine ", "SIGBUS", "SIGSEGV", "fatal error"} {
		if strings.Contains(r.stderr, crash) {
			t.Errorf("%s crashed (%q): exit %d, stderr:\n%s", who, crash, r.code, logTail(r.stderr))
			return
		}
	}
	if r.code != exitFailure || !strings.Contains(r.stderr, dir) || !strings.Contains(r.stderr, want) {
		t.Errorf("%s: exit %d, stderr:\n%s\nwant exit %d and a message naming %s and %q", who, r.code, logTail(r.stderr), exitFailure, dir, want)
	}
}

// TestDamage damages copies of a mined datadir in the ways a failing disk,
// a crash or a careless tool does. Neither the node nor `miner verify` may
// crash: each exits 1 saying what is wrong (the node: what to do), and
// `miner reindex` rebuilds the chain from the blocks that survive, after
// which verify passes and the node starts at the height reindex reported.
func TestDamage(t *testing.T) {
	mined := t.TempDir()
	mineAndStop(t, nodeOpts{datadir: mined, interval: "20ms"}, 40)
	full := verifiedHeight(t, "regtest", verify(t, "regtest", mined))
	l := readLayout(t, filepath.Join(mined, store.FileName))
	var at []byte // the main-chain block at half the height
	l.view(t, func(tx *bolt.Tx) (err error) {
		at, err = mainHash(tx, full/2)
		return err
	})
	block, undo, index := l.record(t, bucketBlocks, at), l.record(t, bucketUndo, at), l.record(t, bucketIndex, at)
	var account record
	l.view(t, func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketAccounts).Cursor().First()
		account = l.record(t, bucketAccounts, bytes.Clone(k))
		return nil
	})
	if block.page == l.blocksRoot {
		t.Fatalf("the blocks bucket fits one page (%d): mine more blocks", block.page)
	}

	const lossy = -1 // blocks are lost: reindex recovers what survives, up to the mined height
	tests := []struct {
		name   string
		damage damage
		say    string // in the message of the node and of verify
		want   int64  // height reindex recovers, or lossy
	}{
		{"cut inside meta page 0", truncate(50), "no valid meta page", 0},
		{"cut inside meta page 1", truncate(l.pageSize + 100), "cut short", 0},
		{"cut to half", truncate(l.pages / 2 * l.pageSize), "cut short", lossy},
		{"last page in use cut", truncate((l.pages - 1) * l.pageSize), "cut short", lossy},
		{"100 bytes appended", editFile(func(f *os.File) error {
			_, err := f.WriteAt(make([]byte, 100), int64(len(l.file)))
			return err
		}), "whole number", int64(full)},
		{"meta page 0 zeroed", zeroPages(l, 0), "meta page 0", int64(full)},
		{"meta page 1 zeroed", zeroPages(l, 1), "meta page 1", int64(full)},
		{"both meta pages zeroed", zeroPages(l, 0, 1), "no valid meta page", int64(full)},
		{"meta page 0 flipped", flip(l, 16+40), "meta page 0: checksum", int64(full)},
		{"meta page 1 flipped", flip(l, l.pageSize+16+40), "meta page 1: checksum", int64(full)},
		{"root page zeroed", zeroPages(l, l.root), "damaged", int64(full)},
		{"freelist page zeroed", zeroPages(l, l.freelist), "freelist", int64(full)},
		{"blocks branch page zeroed", zeroPages(l, l.blocksRoot), "damaged", int64(full)},
		{"block's page zeroed", zeroPages(l, block.page), "damaged", lossy},
		{"undo data's page zeroed", zeroPages(l, undo.page), "damaged", int64(full)},
		{"index page zeroed", zeroPages(l, index.page), "damaged", int64(full)},
		{"block page's element flipped", flip(l, block.page*l.pageSize+16+5), "damaged", lossy},
		{"index page's type flipped", flip(l, index.page*l.pageSize+8), "damaged", int64(full)},
		{"undo page's count flipped", flip(l, undo.page*l.pageSize+10), "damaged", int64(full)},
		{"block value flipped", flipValues(l, block), "checksum", int64(full/2) - 1},
		{"undo value flipped", flipValues(l, undo), "undo data of block", int64(full)},
		{"index value flipped", flipValues(l, index), "index entry of block", int64(full)},
		{"account value flipped", flipValues(l, account), "account", int64(full)},
		{"empty file", truncate(0), "empty", 0},
		{"file removed", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "missing", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDatadir(t, mined)
			tt.damage(t, filepath.Join(dir, store.FileName))

			node := runMiner(t, 20*time.Second, "--network", "regtest", "--datadir", dir, "-p", "0", "-i", "0")
			refused(t, "the node", node, dir, tt.say)
			if !strings.Contains(node.stderr, "miner reindex --network regtest --datadir "+dir) {
				t.Errorf("the node does not say to run miner reindex:\n%s", node.stderr)
			}
			say := tt.say
			if say == "missing" {
				say = "no such file" // verify has no node key to tell a lost file from a datadir never used
			}
			refused(t, "verify", verify(t, "regtest", dir), dir, say)

			r := reindex(t, "regtest", dir)
			got := okHeight(t, "reindexed", "regtest", r)
			if tt.want == lossy && got > full || tt.want != lossy && got != uint64(tt.want) {
				t.Errorf("reindex recovered height %d, want %d (of %d; -1: up to it)\n%s%s", got, tt.want, full, r.stdout, r.stderr)
			}
			if h := verifiedHeight(t, "regtest", verify(t, "regtest", dir)); h != got {
				t.Errorf("verify after reindex: height %d, reindex said %d", h, got)
			}
			n := startNode(t, "reindexed", nodeOpts{datadir: dir})
			if st := n.mustStatus(t); st.Height != got {
				t.Errorf("node after reindex at height %d, reindex said %d", st.Height, got)
			}
			n.stop(t, 5*time.Second)
			t.Logf("recovered height %d of %d: %s", got, full, strings.TrimSpace(r.stdout))
		})
	}
}

// TestReindex: an intact chain rebuilds to the same tip, and the node goes
// on mining from it; reindex refuses a datadir a node runs on, and one of
// another network, and leaves both as they were.
func TestReindex(t *testing.T) {
	dir := t.TempDir()
	mineAndStop(t, nodeOpts{datadir: dir, interval: "20ms"}, 5)
	before := verify(t, "regtest", dir)
	height := verifiedHeight(t, "regtest", before)
	_, tip, _ := strings.Cut(before.stdout, ", height ") // "N, tip HASH\n"

	n := startNode(t, "running", nodeOpts{datadir: dir})
	refused(t, "reindex beside a node", reindex(t, "regtest", dir), dir, "in use")
	n.stop(t, 5*time.Second)
	refused(t, "reindex as devnet", reindex(t, "devnet", dir), dir, "wrong --network")

	r := reindex(t, "regtest", dir)
	if okHeight(t, "reindexed", "regtest", r); !strings.Contains(r.stdout, ", height "+tip) {
		t.Errorf("reindex printed %q: want the tip verify printed, height %s", r.stdout, tip)
	}
	kept, err := filepath.Glob(filepath.Join(dir, store.FileName+".damaged-*"))
	if err != nil || len(kept) != 1 || !strings.Contains(r.stdout, kept[0]) {
		t.Errorf("old files %v, printed %q: want the one it names", kept, r.stdout)
	}
	verifiedHeight(t, "regtest", verify(t, "regtest", dir))
	startNode(t, "after reindex", nodeOpts{datadir: dir, mine: true, interval: "20ms"}).waitHeight(t, 30*time.Second, height+3)
}
