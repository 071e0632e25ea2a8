package chain

import "fmt"

// MaxBlockSize bounds an encoded block.
const MaxBlockSize = 1 << 20

// Block is a header and its transactions; the first transaction is the coinbase.
//
// Encoding: header (80) | transaction count (varint) | transactions.
type Block struct {
	Header Header
	Txs    []*Tx
}

// Hash returns the block hash.
func (b *Block) Hash() Hash { return b.Header.Hash() }

// Bytes returns the block's encoding.
func (b *Block) Bytes() []byte {
	h := b.Header.Bytes()
	out := appendVarInt(h[:], uint64(len(b.Txs)))
	for _, tx := range b.Txs {
		out = append(out, tx.Bytes()...)
	}
	return out
}

// Size returns the length of the block's encoding without encoding it.
func (b *Block) Size() int {
	var n [9]byte
	size := HeaderSize + len(appendVarInt(n[:0], uint64(len(b.Txs))))
	for _, tx := range b.Txs {
		size += tx.Size()
	}
	return size
}

// DecodeBlock reads an encoded block, consuming all of b.
func DecodeBlock(b []byte) (*Block, error) {
	if len(b) > MaxBlockSize {
		return nil, fmt.Errorf("block: %d bytes exceeds %d", len(b), MaxBlockSize)
	}
	r := &reader{b: b}
	var blk Block
	hb := r.next(HeaderSize)
	if hb != nil {
		blk.Header, _ = DecodeHeader(hb)
	}
	// The smallest transaction is a coinbase, which bounds the count.
	n := r.varInt(MaxBlockSize / coinbaseSize)
	blk.Txs = make([]*Tx, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		blk.Txs = append(blk.Txs, readTx(r))
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	return &blk, nil
}

// TxHashes returns the txids in block order.
func (b *Block) TxHashes() []Hash {
	ids := make([]Hash, len(b.Txs))
	for i, tx := range b.Txs {
		ids[i] = tx.Hash()
	}
	return ids
}

// MerkleRoot computes Bitcoin's merkle root: pairs hashed with SHA-256d, the
// last of an odd level paired with itself. It does not detect the duplicate-
// transaction ambiguity of that scheme; block validation rejects duplicate txids.
func MerkleRoot(ids []Hash) Hash {
	if len(ids) == 0 {
		return Hash{}
	}
	level := append([]Hash(nil), ids...)
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		for i := 0; i < len(level); i += 2 {
			level[i/2] = HashPair(level[i], level[i+1])
		}
		level = level[:len(level)/2]
	}
	return level[0]
}

// HashPair is one step up a merkle tree: SHA-256d of left then right.
func HashPair(left, right Hash) Hash {
	var pair [2 * HashSize]byte
	copy(pair[:HashSize], left[:])
	copy(pair[HashSize:], right[:])
	return DoubleSHA256(pair[:])
}

// MerkleBranch returns the sibling hashes on the way from the first
// transaction of ids to the merkle root, lowest level first: what a Stratum
// job sends so that a miner, who changes only the coinbase, can rebuild the
// root by hashing the coinbase's txid with each in turn, always on the left.
func MerkleBranch(ids []Hash) []Hash {
	var branch []Hash
	level := append([]Hash(nil), ids...)
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		branch = append(branch, level[1])
		for i := 0; i < len(level); i += 2 {
			level[i/2] = HashPair(level[i], level[i+1])
		}
		level = level[:len(level)/2]
	}
	return branch
}
