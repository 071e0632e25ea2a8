package store

import (
	"fmt"
	"io"
	"os"

	"github.com/hashforge/hashforge/chain"
)

// maxLeafSpan bounds what one leaf page with its overflow pages is read
// as: two of the largest blocks, which is more than bbolt puts on one page.
const maxLeafSpan = 2*chain.MaxBlockSize + 1<<16

// scanLeaves calls fn with every key and value on every leaf page of the
// bbolt file r, size bytes of pageSize-byte pages, and the value's offset
// in the file. It reads the pages in file order, in use or freed, and needs
// neither meta page nor branch page: bbolt writes copy-on-write, so freed
// pages still hold older copies of records, and a leaf page stays readable
// when whatever pointed at it is damaged. Nothing in the file is trusted:
// every element is checked to lie inside its page.
func scanLeaves(r io.ReaderAt, size int64, pageSize int, fn func(key, value []byte, off int64)) error {
	ps := int64(pageSize)
	buf := make([]byte, pageSize)
	// Pages 0 and 1 are the meta pages.
	for id := int64(2); (id+1)*ps <= size; id++ {
		off := id * ps
		if _, err := r.ReadAt(buf[:pageHeaderSize], off); err != nil {
			return err
		}
		h := parsePageHeader(buf)
		if h.flags != leafPageFlag || h.id != uint64(id) {
			continue
		}
		span := min((int64(h.overflow)+1)*ps, size-off, maxLeafSpan)
		if int64(cap(buf)) < span {
			buf = make([]byte, span)
		}
		page := buf[:span]
		if _, err := r.ReadAt(page, off); err != nil {
			return err
		}
		leafElements(page, off, fn, true)
	}
	return nil
}

// leafElements calls fn for the records on the leaf page in page, which
// starts at offset base of the file. An inline bucket (a bucket small
// enough to live in its parent's value, as a page after its header) is
// read as a page of its own when inline allows it.
func leafElements(page []byte, base int64, fn func(key, value []byte, off int64), inline bool) {
	if len(page) < pageHeaderSize || parsePageHeader(page).flags != leafPageFlag {
		return
	}
	for i := range int(parsePageHeader(page).count) {
		e := pageHeaderSize + i*elementSize
		if e+elementSize > len(page) {
			return
		}
		flags := native.Uint32(page[e:])
		pos, ksize, vsize := uint64(native.Uint32(page[e+4:])), uint64(native.Uint32(page[e+8:])), uint64(native.Uint32(page[e+12:]))
		k := uint64(e) + pos
		v := k + ksize
		if v+vsize > uint64(len(page)) {
			continue
		}
		key, value := page[k:v], page[v:v+vsize]
		if flags&bucketLeafFlag == 0 {
			fn(key, value, base+int64(v))
		} else if inline && len(value) > bucketHeader && native.Uint64(value) == 0 {
			leafElements(value[bucketHeader:], base+int64(v)+bucketHeader, fn, false)
		}
	}
}

// salvagedBlock is an intact block found in a damaged file: its header,
// and where its record lies, to be read again when its turn comes.
type salvagedBlock struct {
	header chain.Header
	off    int64
	size   int
}

// salvage finds every intact block in the store file f: a record
// under a 32-byte key whose checksum holds, or a bare block as format 1
// stored it, that decodes to a block hashing to its key and committing to
// its transactions. The first copy of each block found is kept.
func salvage(f *os.File) (map[chain.Hash]salvagedBlock, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	_, _, pageSize := readMetas(f, fi.Size())
	if pageSize == 0 {
		// Both metas are lost: bbolt writes pages of the OS page size.
		pageSize = os.Getpagesize()
	}
	found := make(map[chain.Hash]salvagedBlock)
	err = scanLeaves(f, fi.Size(), pageSize, func(key, value []byte, off int64) {
		if b := blockRecord(key, value); b != nil {
			if _, dup := found[b.Hash()]; !dup {
				found[b.Hash()] = salvagedBlock{header: b.Header, off: off, size: len(value)}
			}
		}
	})
	return found, err
}

// blockRecord returns the block stored in value under key, or nil.
func blockRecord(key, value []byte) *chain.Block {
	if len(key) != chain.HashSize {
		return nil
	}
	raw, err := openRecord(key, value)
	if err != nil {
		raw = value // format 1
	}
	b, err := chain.DecodeBlock(raw)
	if err != nil || b.Hash() != chain.Hash(key) || len(b.Txs) == 0 || chain.MerkleRoot(b.TxHashes()) != b.Header.MerkleRoot {
		return nil
	}
	return b
}

// read reads the block again from the file it was found in.
func (sb salvagedBlock) read(f *os.File, hash chain.Hash) (*chain.Block, error) {
	value := make([]byte, sb.size)
	if _, err := f.ReadAt(value, sb.off); err != nil {
		return nil, err
	}
	b := blockRecord(hash[:], value)
	if b == nil {
		return nil, fmt.Errorf("block %s changed in %s since it was found", hash, f.Name())
	}
	return b, nil
}
