package miner

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// txCacheTTL is how long a transaction selection serves templates on the
// same parent. A Stratum server asks for one template per payout address,
// and a thousand workers paying a thousand addresses would otherwise make a
// thousand mempool selections for every tip; a few seconds keep new
// transactions waiting little longer than the server's own refresh.
const txCacheTTL = 2 * time.Second

// staleRetries bounds how often BlockTemplate starts over when blocks keep
// arriving between reading the tip and selecting transactions.
const staleRetries = 3

// Templates builds blocks on the chain's tip for the miner's own work and
// for a Stratum server's workers, which may run without a miner: a node
// with no hashing device still serves miners. One selection of the pool's
// transactions serves every template on one parent for a while.
type Templates struct {
	chain interface{ NextBlock() chain.NextBlock }
	txs   TxSource // nil builds empty blocks
	log   *slog.Logger
	cache txCache
}

// NewTemplates returns templates on c's tip with transactions from txs,
// which may be nil.
func NewTemplates(c interface{ NextBlock() chain.NextBlock }, txs TxSource, log *slog.Logger) *Templates {
	return &Templates{chain: c, txs: txs, log: log}
}

// txCache holds the last selection of the pool's transactions.
type txCache struct {
	mu     sync.Mutex
	parent chain.Hash
	at     time.Time
	txs    []*chain.Tx
	fees   uint64
}

// selection returns the pool's transactions for a block on parent within
// room bytes, and their fees: the cached ones while they are fresh and for
// the same parent. Every coinbase has the same size, so room is the same for
// every payout address and one selection fits them all.
func (t *Templates) selection(parent chain.Hash, room int, now time.Time) ([]*chain.Tx, uint64, error) {
	c := &t.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parent == parent && now.Sub(c.at) < txCacheTTL {
		return c.txs, c.fees, nil
	}
	txs, fees, err := t.txs.Template(parent, room)
	if err != nil {
		return nil, 0, err
	}
	c.parent, c.at, c.txs, c.fees = parent, now, txs, fees
	return txs, fees, nil
}

// template builds a block on next with the pool's best transactions and a
// coinbase paying the subsidy and their fees to payTo. When the pool fails
// the block goes out empty, still worth its subsidy, with the error; a stale
// parent returns no block, as a block on it would be stale too.
func (t *Templates) build(next chain.NextBlock, payTo chain.Address, extraNonce uint64) (*chain.Block, error) {
	cb := chain.NewCoinbase(next.Height, payTo, next.Subsidy, extraNonce)
	var txs []*chain.Tx
	var err error
	if t.txs != nil {
		// Room for the header, the transaction count and the coinbase.
		room := chain.MaxBlockSize - chain.HeaderSize - 9 - cb.Size()
		var fees uint64
		if txs, fees, err = t.selection(next.Parent, room, next.Now); err == nil {
			cb.Amount += fees
		} else if staleParent(err) {
			return nil, err
		}
	}
	b := &chain.Block{
		Header: chain.Header{
			Version:   1,
			PrevBlock: next.Parent,
			Timestamp: max(uint32(next.Now.Unix()), next.MinTime),
			Bits:      next.Bits,
		},
		Txs: append([]*chain.Tx{cb}, txs...),
	}
	b.Header.MerkleRoot = chain.MerkleRoot(b.TxHashes())
	return b, err
}

// BlockTemplate returns an unsolved block on the current tip whose coinbase
// pays the subsidy and the fees of its transactions to payTo, with
// extranonce 0: the work a Stratum server hands to a worker mining for
// payTo. A pool that fails leaves the block empty (logged), as the miner's
// own work does; only a tip that keeps moving under it is an error.
func (t *Templates) BlockTemplate(ctx context.Context, payTo chain.Address) (*chain.Block, error) {
	var err error
	for range staleRetries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var b *chain.Block
		b, err = t.build(t.chain.NextBlock(), payTo, 0)
		if staleParent(err) {
			continue // a block arrived since NextBlock: build on it
		}
		if err != nil {
			t.log.Warn("block template without transactions", "err", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("block template: %w", err)
}
