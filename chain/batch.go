package chain

import (
	"context"
	"fmt"
	"time"
)

// ProcessBlocks takes a run of blocks, each the child of the one before, as
// a sync downloads them. The blocks that extend the main chain's tip are
// checked with ProcessBlock's rules and stored and connected in one store
// transaction: one commit and one fsync for the run where ProcessBlock pays
// them per block, and a crash keeps the run whole or drops it whole. A block
// that cannot join such a run (a side branch, a block that breaks a rule)
// goes through ProcessBlock once the run before it is stored, so every rule
// and fork choice stays ProcessBlock's; blocks already known count as taken.
// It returns how many blocks were taken; err concerns blocks[n].
func (c *Chain) ProcessBlocks(ctx context.Context, blocks []*Block) (n int, err error) {
	for n < len(blocks) {
		k, err := c.connectRun(blocks[n:])
		if n += k; err != nil || n == len(blocks) {
			return n, err
		}
		if err := c.ProcessBlock(ctx, blocks[n]); err != nil && Code(err) != ErrDuplicateBlock {
			return n, err
		}
		n++
	}
	return n, nil
}

// pendingAccounts reads account state through the changes of blocks that
// are checked but not yet stored.
type pendingAccounts struct {
	store   AccountReader
	changed memAccounts
}

func (p pendingAccounts) Account(a Address) (Account, error) {
	if acc, ok := p.changed[a]; ok {
		return acc, nil
	}
	return p.store.Account(a)
}

// connectRun stores and connects the longest prefix of blocks that extends
// the tip and keeps every rule, in one store transaction, and returns its
// length. An error is the store's.
func (c *Chain) connectRun(blocks []*Block) (int, error) {
	// A run that cannot extend the tip is not checked at all: ProcessBlocks
	// hands its first block to ProcessBlock and asks again for the rest, and
	// checking every signature of the rest each time would cost a run on a
	// side branch its length squared.
	c.mu.RLock()
	extends := c.best == c.tip() && blocks[0].Header.PrevBlock == c.tip().hash
	c.mu.RUnlock()
	if !extends {
		return 0, nil
	}
	start, now := time.Now(), c.now()
	// The checks that need no parent run before the lock, as ProcessBlock's
	// do, up to the first block that is not its predecessor's child.
	raws := make([][]byte, 0, len(blocks))
	for i, b := range blocks {
		if i > 0 && b.Header.PrevBlock != blocks[i-1].Hash() {
			break
		}
		raw := b.Bytes()
		if checkBlockSanity(b, len(raw), c.params, now, c.sigs) != nil {
			break
		}
		raws = append(raws, raw)
	}

	c.mu.Lock()
	parent := c.tip()
	if c.best != parent {
		// A stored branch outweighs the tip: ProcessBlock moves to it.
		c.mu.Unlock()
		return 0, nil
	}
	state := pendingAccounts{store: c.store, changed: make(memAccounts)}
	run := make([]BlockUpdate, 0, len(raws))
	nodes := make([]*blockNode, 0, len(raws))
	txs := 0
	for i, raw := range raws {
		b := blocks[i]
		if b.Header.PrevBlock != parent.hash || checkBlockContext(b, parent, c.params) != nil {
			break
		}
		n := newBlockNode(b.Header, parent)
		if _, known := c.index[n.hash]; known {
			break
		}
		changes, err := applyBlock(state, b, n.height, c.params)
		if Code(err) != "" {
			break
		}
		if err != nil {
			c.mu.Unlock()
			return 0, err
		}
		state.changed.apply(changes)
		run = append(run, BlockUpdate{Entry: n.entry(), Raw: raw, Update: n.update(b, changes)})
		nodes = append(nodes, n)
		txs += len(b.Txs)
		parent = n
	}
	if len(run) == 0 {
		c.mu.Unlock()
		return 0, nil
	}
	if err := c.store.ConnectBlocks(run); err != nil {
		c.mu.Unlock()
		return 0, fmt.Errorf("connect blocks %d to %d: %w", nodes[0].height, parent.height, err)
	}
	for _, n := range nodes {
		c.index[n.hash] = n
	}
	c.main = append(c.main, nodes...)
	c.best = parent
	tip := c.tipLocked()
	now = c.now()
	// One line per run: a sync connects thousands of blocks a second.
	c.log.Info("blocks connected", "from", nodes[0].height, "to", parent.height, "hash", parent.hash, "txs", txs,
		"interval", now.Sub(c.connected).Round(time.Millisecond))
	c.connected = now
	c.mu.Unlock()

	c.notify(tip)
	// The histogram counts blocks: each takes its share of the run's time.
	per := now.Sub(start) / time.Duration(len(run))
	for range run {
		c.stats.observeValidation(per)
	}
	return len(run), nil
}
