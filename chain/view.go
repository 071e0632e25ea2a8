package chain

import (
	"fmt"
	"slices"
)

// View reads the main chain and its account state as of one tip. It is only
// valid inside the function given to Chain.View, which holds the chain still.
type View struct {
	c *Chain
}

// View calls fn with a view of the chain that no block can change while fn
// runs; blocks being processed wait. fn must not call the chain's methods.
func (c *Chain) View(fn func(*View) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return fn(&View{c: c})
}

// Tip returns the main chain's last block.
func (v *View) Tip() Tip { return v.c.tipLocked() }

// Account returns an address's state at the tip.
func (v *View) Account(a Address) (Account, error) { return v.c.store.Account(a) }

// HashAt returns the hash of the main-chain block at height; ok is false
// above the tip.
func (v *View) HashAt(height uint64) (h Hash, ok bool) {
	if height >= uint64(len(v.c.main)) {
		return h, false
	}
	return v.c.main[height].hash, true
}

// Locate returns a stored block's height and whether it is on the main chain;
// ok is false for an unknown block.
func (v *View) Locate(h Hash) (height uint64, main, ok bool) {
	n := v.c.index[h]
	if n == nil {
		return 0, false, false
	}
	return n.height, v.c.onMain(n), true
}

// Block returns a stored block, on any branch.
func (v *View) Block(h Hash) (*Block, error) {
	if v.c.index[h] == nil {
		return nil, fmt.Errorf("block %s is unknown", h)
	}
	return v.c.store.Block(h)
}

// Detached returns the blocks that left the main chain since from was its tip,
// oldest first: the branch from the fork with today's main chain up to from.
// It is empty when from is still on the main chain.
func (v *View) Detached(from Hash) ([]*Block, error) {
	n := v.c.index[from]
	if n == nil {
		return nil, fmt.Errorf("block %s is unknown", from)
	}
	var blocks []*Block
	for ; !v.c.onMain(n); n = n.parent {
		b, err := v.c.store.Block(n.hash)
		if err != nil {
			return nil, fmt.Errorf("read block %s: %w", n.hash, err)
		}
		blocks = append(blocks, b)
	}
	slices.Reverse(blocks)
	return blocks, nil
}

func (c *Chain) onMain(n *blockNode) bool {
	return n.height < uint64(len(c.main)) && c.main[n.height] == n
}

// Account returns an address's state at the tip.
func (c *Chain) Account(a Address) (Account, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.store.Account(a)
}

// TxLocation is where a confirmed transaction sits on the main chain.
type TxLocation struct {
	Block  Hash
	Height uint64
}

// Transaction returns a transaction of a main-chain block and where it sits;
// ok is false when no main-chain block holds txid.
func (c *Chain) Transaction(txid Hash) (tx *Tx, loc TxLocation, ok bool, err error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, found, err := c.store.TxBlock(txid)
	if err != nil || !found {
		return nil, loc, false, err
	}
	b, err := c.store.Block(h)
	if err != nil {
		return nil, loc, false, fmt.Errorf("read block %s: %w", h, err)
	}
	for _, t := range b.Txs {
		if t.Hash() == txid {
			return t, TxLocation{Block: h, Height: c.index[h].height}, true, nil
		}
	}
	return nil, loc, false, fmt.Errorf("transaction index names block %s for %s, which does not hold it", h, txid)
}
