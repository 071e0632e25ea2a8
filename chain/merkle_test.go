package chain_test

import (
	"testing"

	"github.com/hashforge/hashforge/chain"
)

// The branch of the first transaction, hashed up from its txid, gives the
// merkle root for every count of transactions, odd levels included.
func TestMerkleBranch(t *testing.T) {
	for n := 1; n <= 17; n++ {
		ids := make([]chain.Hash, n)
		for i := range ids {
			ids[i] = chain.DoubleSHA256([]byte{byte(i)})
		}
		root := ids[0]
		for _, h := range chain.MerkleBranch(ids) {
			root = chain.HashPair(root, h)
		}
		if want := chain.MerkleRoot(ids); root != want {
			t.Errorf("%d transactions: branch gives %s, root is %s", n, root, want)
		}
	}
}
