package store

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/hashforge/hashforge/chain"
)

// contents is what checkAll saw of the records that must agree across
// buckets. A page whose record count shrinks, or a page lost with a
// branch that no longer points at it, leaves bbolt's tree consistent with
// records missing: only these cross-checks see it.
type contents struct {
	blocks, index, undo, txBlocks map[chain.Hash]bool
	main                          map[uint64]chain.Hash
	tip                           *chain.Hash
}

func newContents() *contents {
	return &contents{blocks: map[chain.Hash]bool{}, index: map[chain.Hash]bool{}, undo: map[chain.Hash]bool{},
		txBlocks: map[chain.Hash]bool{}, main: map[uint64]chain.Hash{}}
}

// note records a record that opened and decoded.
func (c *contents) note(bucket, key, value []byte) {
	hashOf := func(b []byte) chain.Hash { return chain.Hash(b) }
	switch string(bucket) {
	case string(bucketBlocks):
		c.blocks[hashOf(key)] = true
	case string(bucketIndex):
		c.index[hashOf(key)] = true
	case string(bucketUndo):
		c.undo[hashOf(key)] = true
	case string(bucketTxs):
		c.txBlocks[hashOf(value)] = true
	case string(bucketMain):
		c.main[binary.BigEndian.Uint64(key)] = hashOf(value)
	case string(bucketMeta):
		if bytes.Equal(key, keyTip) {
			tip := hashOf(value)
			c.tip = &tip
		}
	}
}

// check adds to p where the buckets disagree: every stored block has an
// index entry and the other way round; the main chain runs from height 0
// without a gap through indexed blocks, each with its undo data, to the
// stored tip; undo data and the transaction index belong to main-chain
// blocks only. Connect, Disconnect and PutBlock keep all of this in one
// transaction each, so no crash leaves it otherwise.
func (c *contents) check(p *problems) {
	for _, h := range sortedHashes(c.blocks) {
		if !c.index[h] {
			p.add("block %s has no index entry", h)
		}
	}
	for _, h := range sortedHashes(c.index) {
		if !c.blocks[h] {
			p.add("index entry of block %s has no block", h)
		}
	}
	var top uint64
	for height := range c.main {
		top = max(top, height)
	}
	onMain := make(map[chain.Hash]bool, len(c.main))
	for height := uint64(0); len(c.main) > 0 && height <= top; height++ {
		h, ok := c.main[height]
		switch {
		case !ok:
			p.add("main-chain height %d is missing", height)
			continue
		case !c.index[h]:
			p.add("main-chain height %d: block %s is not in the index", height, h)
		case !c.undo[h]:
			p.add("undo data of block %s (main-chain height %d) is missing", h, height)
		}
		onMain[h] = true
	}
	for _, h := range sortedHashes(c.undo) {
		if !onMain[h] {
			p.add("undo data of block %s, which is not on the main chain", h)
		}
	}
	for _, h := range sortedHashes(c.txBlocks) {
		if !onMain[h] {
			p.add("transaction index points to block %s, which is not on the main chain", h)
		}
	}
	if len(c.main) == 0 {
		return
	}
	last := c.main[top]
	switch {
	case c.tip == nil:
		p.add("stored tip is missing")
	case *c.tip != last:
		p.add("stored tip %s is not the last main-chain block %s", *c.tip, last)
	}
}

func sortedHashes(set map[chain.Hash]bool) []chain.Hash {
	hs := make([]chain.Hash, 0, len(set))
	for h := range set {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, func(a, b chain.Hash) int { return bytes.Compare(a[:], b[:]) })
	return hs
}
