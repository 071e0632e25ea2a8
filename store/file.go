package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"strconv"
	"strings"
)

// bbolt's file format (version 2, go.etcd.io/bbolt/internal/common), read
// here with plain file reads, so that a damaged file is judged before
// bbolt maps it into memory and trusts it (checkFile), and its blocks are
// found even where bbolt cannot open it (salvage). bbolt writes integers in
// the machine's byte order.
const (
	pageHeaderSize = 16 // id u64 | flags u16 | count u16 | overflow u32
	elementSize    = 16 // leaf element: flags u32 | pos u32 | ksize u32 | vsize u32
	leafPageFlag   = 0x02
	freelistFlag   = 0x10
	bucketLeafFlag = 0x01 // a leaf element that is a bucket
	bucketHeader   = 16   // a bucket's value: root page u64 | sequence u64
	metaSumSize    = 56   // meta fields the checksum covers: magic … txid
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
)

var native = binary.NativeEndian

// pageHeader starts every page.
type pageHeader struct {
	id       uint64
	flags    uint16
	count    uint16
	overflow uint32
}

func parsePageHeader(b []byte) pageHeader {
	return pageHeader{id: native.Uint64(b), flags: native.Uint16(b[8:]), count: native.Uint16(b[10:]), overflow: native.Uint32(b[12:])}
}

// meta is what a meta page says of the database.
type meta struct {
	pageSize int
	root     uint64 // page of the root bucket
	freelist uint64 // page of the freelist
	pgid     uint64 // pages in use: the high-water mark
	txid     uint64
}

// readMeta reads and checks the meta page at off as bbolt does: magic,
// version and checksum.
func readMeta(r io.ReaderAt, off int64) (meta, error) {
	var b [pageHeaderSize + metaSumSize + 8]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return meta{}, fmt.Errorf("unreadable: %w", err)
	}
	m := b[pageHeaderSize:]
	if native.Uint32(m) != boltMagic {
		return meta{}, errors.New("not a bbolt meta page (bad magic)")
	}
	if v := native.Uint32(m[4:]); v != boltVersion {
		return meta{}, fmt.Errorf("bbolt format version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:metaSumSize])
	if h.Sum64() != native.Uint64(m[metaSumSize:]) {
		return meta{}, errors.New("checksum mismatch")
	}
	return meta{pageSize: int(native.Uint32(m[8:])), root: native.Uint64(m[16:]), freelist: native.Uint64(m[32:]),
		pgid: native.Uint64(m[40:]), txid: native.Uint64(m[48:])}, nil
}

// readMetas reads both meta pages. The second lies one page in, and the
// page size is written in the metas: when the first is unreadable, the
// second is looked for at every page size bbolt can write, as bbolt does.
// pageSize is 0 when neither meta is valid.
func readMetas(r io.ReaderAt, size int64) (metas [2]meta, errs [2]error, pageSize int) {
	metas[0], errs[0] = readMeta(r, 0)
	if errs[0] == nil {
		pageSize = metas[0].pageSize
		metas[1], errs[1] = readMeta(r, int64(pageSize))
	} else {
		errs[1] = errors.New("not found at any page size")
		for ps := int64(1024); ps <= 1<<24 && ps < size; ps *= 2 {
			if m, err := readMeta(r, ps); err == nil && int64(m.pageSize) == ps {
				metas[1], errs[1], pageSize = m, nil, m.pageSize
				break
			}
		}
	}
	if pageSize < 1024 {
		pageSize = 0
	}
	return metas, errs, pageSize
}

// checkFile judges the file at path, size bytes long, before bbolt opens it:
// both meta pages valid, the size a whole number of pages, and every page
// the metas and the freelist name inside the file, so that bbolt's reads
// stay inside its memory map. It returns false when bbolt must not open the
// file at all.
func checkFile(f io.ReaderAt, size int64, p *problems) (openable bool) {
	if size == 0 {
		p.add("the file is empty (0 bytes)")
		return false
	}
	metas, errs, pageSize := readMetas(f, size)
	for i, err := range errs {
		if err != nil {
			p.add("meta page %d: %v", i, err)
		}
	}
	if pageSize == 0 {
		p.add("no valid meta page: the file's page size and root are lost")
		return false
	}
	if size%int64(pageSize) != 0 {
		p.add("the file is %d bytes, not a whole number of %d-byte pages", size, pageSize)
	}
	openable = true
	pages := uint64(size / int64(pageSize))
	use := -1 // the meta bbolt reads: the newest valid one
	for i, m := range metas {
		if errs[i] != nil {
			continue
		}
		switch {
		case m.pgid > pages:
			p.add("the file ends at page %d, but meta page %d has pages up to %d: it was cut short", pages, i, m.pgid)
			openable = false
		case m.root < 2 || m.root >= m.pgid || m.freelist < 2 || m.freelist >= m.pgid:
			// The store always writes the freelist: without one, bbolt
			// would rebuild it walking the tree in a goroutine guard does
			// not reach.
			p.add("meta page %d names pages outside the file: root %d, freelist %d, %d pages", i, m.root, m.freelist, m.pgid)
			openable = false
		}
		if use < 0 || m.txid > metas[use].txid {
			use = i
		}
	}
	if openable {
		if err := checkFreelist(f, metas[use], pageSize); err != nil {
			p.add("freelist page %d: %v", metas[use].freelist, err)
			openable = false
		}
	}
	return openable
}

// checkFreelist checks that the freelist page is one and that its list of
// page ids fits its pages: bbolt reads it through the memory map on open.
func checkFreelist(f io.ReaderAt, m meta, pageSize int) error {
	var b [pageHeaderSize + 8]byte
	if _, err := f.ReadAt(b[:], int64(m.freelist)*int64(pageSize)); err != nil {
		return err
	}
	h := parsePageHeader(b[:])
	if h.id != m.freelist || h.flags != freelistFlag {
		return fmt.Errorf("page header says page %d, flags %#x: not the freelist", h.id, h.flags)
	}
	if m.freelist+uint64(h.overflow) >= m.pgid {
		return fmt.Errorf("%d overflow pages run past the %d pages in use", h.overflow, m.pgid)
	}
	// A count of 0xFFFF means the real count is the list's first element.
	span := (uint64(h.overflow) + 1) * uint64(pageSize)
	ids, room := uint64(h.count), (span-pageHeaderSize)/8
	if h.count == 0xFFFF {
		ids, room = native.Uint64(b[pageHeaderSize:]), room-1
	}
	if ids > room {
		return fmt.Errorf("%d page ids do not fit its %d bytes", ids, span)
	}
	return nil
}

// The clean-shutdown marker is a file beside the database that Close writes
// once the database is closed: the database's size and modification time
// then. Open skips the full check of a database whose size and time still
// match. Anything else gets it: a crash (no marker), a copy or restore (a
// new time), an edit by another tool, a marker from another file. Damage
// that leaves size and time alone (the disk's own) is still caught by the
// record checksums when a record is read, and by `miner verify`.
func markerPath(path string) string { return path + ".clean" }

func fingerprint(fi os.FileInfo) string {
	return strconv.FormatInt(fi.Size(), 10) + " " + strconv.FormatInt(fi.ModTime().UnixNano(), 10)
}

func writeMarker(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(markerPath(path), []byte(fingerprint(fi)+"\n"), 0o600)
}

// readMarker reports whether the marker vouches for the database as fi
// shows it. The opener removes it once it holds the database (dropMarker):
// an open that fails on another process's lock leaves it for the next.
func readMarker(path string, fi os.FileInfo) (clean bool, err error) {
	b, err := os.ReadFile(markerPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(b)) == fingerprint(fi), nil
}

// dropMarker removes the marker: from now on the database may change.
func dropMarker(path string) error {
	if err := os.Remove(markerPath(path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
