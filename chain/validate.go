package chain

import (
	"time"
)

// checkBlockSanity applies the rules that need nothing but the block, the
// network and the clock: size, proof of work, transaction form and signatures,
// and the merkle commitment. size is the block's encoded length.
func checkBlockSanity(b *Block, size int, p *Params, now time.Time, sigs *SigCache) error {
	if size > MaxBlockSize {
		return ruleErrorf(ErrBlockTooBig, "block of %d bytes exceeds %d", size, MaxBlockSize)
	}
	if err := checkHeaderSanity(&b.Header, b.Hash(), p, now); err != nil {
		return err
	}
	if len(b.Txs) == 0 || !b.Txs[0].IsCoinbase() {
		return ruleErrorf(ErrNoCoinbase, "first transaction is not a coinbase")
	}
	seen := make(map[Hash]struct{}, len(b.Txs))
	ids := make([]Hash, len(b.Txs))
	for i, tx := range b.Txs {
		if i > 0 && tx.IsCoinbase() {
			return ruleErrorf(ErrMultipleCoinbase, "transaction %d is a second coinbase", i)
		}
		if err := tx.CheckSanity(p.Magic, sigs); err != nil {
			return err
		}
		ids[i] = tx.Hash()
		if _, dup := seen[ids[i]]; dup {
			return ruleErrorf(ErrDuplicateTx, "transaction %s appears twice", ids[i])
		}
		seen[ids[i]] = struct{}{}
	}
	if root := MerkleRoot(ids); root != b.Header.MerkleRoot {
		return ruleErrorf(ErrBadMerkleRoot, "header commits to %s, transactions hash to %s", b.Header.MerkleRoot, root)
	}
	return nil
}

// checkHeaderSanity applies the rules of a header alone: proof of work and a
// time not too far ahead of the clock.
func checkHeaderSanity(h *Header, hash Hash, p *Params, now time.Time) error {
	if err := checkProofOfWork(hash, h.Bits, p.PowLimit); err != nil {
		return err
	}
	if limit := now.Add(p.MaxFutureTime); h.Time().After(limit) {
		return ruleErrorf(ErrTimeTooNew, "block time %s is more than %s ahead of local time", h.Time().UTC(), p.MaxFutureTime)
	}
	return nil
}

// checkHeaderContext applies the rules of a header that need its parent:
// difficulty and median time past.
func checkHeaderContext(h *Header, parent *blockNode, p *Params) error {
	if want := p.nextBits(parent); h.Bits != want {
		return ruleErrorf(ErrBadBits, "bits %08x, network requires %08x", h.Bits, want)
	}
	if mtp := parent.medianTimePast(); h.Timestamp <= mtp {
		return ruleErrorf(ErrTimeTooOld, "block time %d is not after median time past %d", h.Timestamp, mtp)
	}
	return nil
}

// checkBlockContext applies the rules that need the parent: the header's,
// and the coinbase height.
func checkBlockContext(b *Block, parent *blockNode, p *Params) error {
	if err := checkHeaderContext(&b.Header, parent, p); err != nil {
		return err
	}
	if h := parent.height + 1; b.Txs[0].Height != h {
		return ruleErrorf(ErrBadCoinbaseHeight, "coinbase height %d in a block at height %d", b.Txs[0].Height, h)
	}
	return nil
}
