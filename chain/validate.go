package chain

import (
	"time"
)

// checkBlockSanity applies the rules that need nothing but the block, the
// network and the clock: size, proof of work, transaction form and signatures,
// and the merkle commitment. size is the block's encoded length.
func checkBlockSanity(b *Block, size int, p *Params, now time.Time) error {
	if size > MaxBlockSize {
		return ruleErrorf(ErrBlockTooBig, "block of %d bytes exceeds %d", size, MaxBlockSize)
	}
	hash := b.Hash()
	if err := checkProofOfWork(hash, b.Header.Bits, p.PowLimit); err != nil {
		return err
	}
	if limit := now.Add(p.MaxFutureTime); b.Header.Time().After(limit) {
		return ruleErrorf(ErrTimeTooNew, "block time %s is more than %s ahead of local time", b.Header.Time().UTC(), p.MaxFutureTime)
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
		if err := tx.CheckSanity(p.Magic); err != nil {
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

// checkBlockContext applies the rules that need the parent: difficulty,
// median time past and the coinbase height.
func checkBlockContext(b *Block, parent *blockNode, p *Params) error {
	if want := p.nextBits(parent); b.Header.Bits != want {
		return ruleErrorf(ErrBadBits, "bits %08x, network requires %08x", b.Header.Bits, want)
	}
	if mtp := parent.medianTimePast(); b.Header.Timestamp <= mtp {
		return ruleErrorf(ErrTimeTooOld, "block time %d is not after median time past %d", b.Header.Timestamp, mtp)
	}
	if h := parent.height + 1; b.Txs[0].Height != h {
		return ruleErrorf(ErrBadCoinbaseHeight, "coinbase height %d in a block at height %d", b.Txs[0].Height, h)
	}
	return nil
}
