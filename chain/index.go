package chain

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// Status records what is known about a stored block beyond its proof of work.
type Status uint8

// StatusInvalid marks a block that broke a rule: no block is built on it.
// Descendants are invalid too; that is derived when the index is loaded.
const StatusInvalid Status = 1

// IndexEntry is a stored block's place in the tree of all known blocks.
type IndexEntry struct {
	Header Header
	Height uint64
	Status Status
}

const indexEntrySize = HeaderSize + 8 + 1

// Bytes encodes the entry: header (80) | height (8) | status (1).
func (e *IndexEntry) Bytes() []byte {
	h := e.Header.Bytes()
	b := binary.LittleEndian.AppendUint64(h[:], e.Height)
	return append(b, byte(e.Status))
}

// DecodeIndexEntry reads an encoded IndexEntry.
func DecodeIndexEntry(b []byte) (IndexEntry, error) {
	if len(b) != indexEntrySize {
		return IndexEntry{}, fmt.Errorf("index entry: want %d bytes, have %d", indexEntrySize, len(b))
	}
	h, _ := DecodeHeader(b[:HeaderSize])
	return IndexEntry{
		Header: h,
		Height: binary.LittleEndian.Uint64(b[HeaderSize:]),
		Status: Status(b[HeaderSize+8]),
	}, nil
}

// blockNode is a block in the in-memory tree of every known block.
type blockNode struct {
	hash   Hash
	parent *blockNode
	header Header
	height uint64
	work   *big.Int // cumulative work from genesis through this block
	status Status
	// anchor is the branch's block 1, where ASERT counts from: kept at
	// hand, as walking back to it from every block makes a sync quadratic.
	anchor *blockNode
}

func newBlockNode(h Header, parent *blockNode) *blockNode {
	n := &blockNode{hash: h.Hash(), parent: parent, header: h, work: CalcWork(h.Bits)}
	if parent != nil {
		n.height = parent.height + 1
		n.work.Add(n.work, parent.work)
		n.anchor = parent.anchor
		if n.height == 1 {
			n.anchor = n
		}
	}
	return n
}

func (n *blockNode) entry() IndexEntry {
	return IndexEntry{Header: n.header, Height: n.height, Status: n.status}
}

// update is the move of the main chain onto n, whose block is b and makes
// changes to the accounts.
func (n *blockNode) update(b *Block, changes []AccountChange) Update {
	return Update{Hash: n.hash, Height: n.height, Tip: n.hash, Changes: changes, Txs: b.TxHashes()}
}

// ancestor returns the node's ancestor at height, or nil above the node.
func (n *blockNode) ancestor(height uint64) *blockNode {
	for n != nil && n.height > height {
		n = n.parent
	}
	return n
}

// medianTimeBlocks is how many blocks the median time past looks back over.
const medianTimeBlocks = 11

// medianTimePast is the median timestamp of the node and up to ten ancestors;
// a child's timestamp must be later than it.
func (n *blockNode) medianTimePast() uint32 {
	ts := make([]uint32, 0, medianTimeBlocks)
	for ; n != nil && len(ts) < medianTimeBlocks; n = n.parent {
		ts = append(ts, n.header.Timestamp)
	}
	slices.Sort(ts)
	return ts[len(ts)/2]
}

// nextBits returns the bits a child of parent must carry: ASERT (aserti3-2d),
// so the target depends only on how far the parent is ahead of or behind the
// ideal schedule, never on a window that can be gamed. The anchor is block 1,
// not genesis: genesis has a fixed old timestamp, and a network started later
// would otherwise begin far behind schedule at the easiest target. Blocks 1
// and 2 carry the genesis bits; from there each block's time counts.
func (p *Params) nextBits(parent *blockNode) uint32 {
	if p.ASERTHalfLife == 0 || parent.height == 0 {
		return p.Genesis.Header.Bits
	}
	anchor := parent.anchor
	spacing := int64(p.TargetSpacing / time.Second)
	halfLife := int64(p.ASERTHalfLife / time.Second)
	timeDiff := int64(parent.header.Timestamp) - int64(anchor.header.Timestamp)
	heightDiff := int64(parent.height - anchor.height)

	// 16.16 fixed point exponent; 2^frac is approximated by the cubic that
	// aserti3-2d specifies, in integers so every node computes the same bits.
	exponent := (timeDiff - spacing*heightDiff) * 65536 / halfLife
	shifts := exponent >> 16
	frac := big.NewInt(int64(uint16(exponent)))
	poly := new(big.Int).Mul(big.NewInt(195766423245049), frac)
	f2 := new(big.Int).Mul(frac, frac)
	poly.Add(poly, f2.Mul(f2, big.NewInt(971821376)))
	f3 := new(big.Int).Exp(frac, big.NewInt(3), nil)
	poly.Add(poly, f3.Mul(f3, big.NewInt(5127)))
	poly.Add(poly, new(big.Int).Lsh(big.NewInt(1), 47))
	factor := poly.Rsh(poly, 48)
	factor.Add(factor, big.NewInt(65536))

	next := factor.Mul(factor, CompactToBig(p.Genesis.Header.Bits))
	shifts -= 16
	switch {
	case shifts > 256:
		return p.PowLimitBits
	case shifts < -512:
		next.SetInt64(0)
	case shifts <= 0:
		next.Rsh(next, uint(-shifts))
	default:
		next.Lsh(next, uint(shifts))
	}
	if next.Sign() == 0 {
		next.SetInt64(1)
	}
	if next.Cmp(p.PowLimit) > 0 {
		return p.PowLimitBits
	}
	return BigToCompact(next)
}
