package stratum

import (
	"context"
	"fmt"
	"math/big"
	"sync"

	"github.com/hashforge/hashforge/chain"
)

// Extranonce sizes: the coinbase's 8-byte extranonce is the server's 4 bytes,
// unique per connection, then the miner's 4, which with the nonce and the
// rolled version give any miner more headers than it can hash in a job's life.
const (
	extranonce1Size = 4
	extranonce2Size = 8 - extranonce1Size
)

// work is a block template as a job: shared by every connection paying the
// same address while the tip and the refresh stand.
type work struct {
	job         Job          // ID empty: each connection numbers its own jobs
	block       *chain.Block // the template, for the transactions of a solved share
	blockTarget *big.Int
	blockDiff   float64
}

// newWork splits the template's coinbase around its extranonce and takes the
// coinbase's merkle branch, so a share's coinbase and header can be rebuilt
// from what the miner sends.
func newWork(b *chain.Block) (*work, error) {
	if len(b.Txs) == 0 || !b.Txs[0].IsCoinbase() {
		return nil, fmt.Errorf("stratum: template %s has no coinbase", b.Hash())
	}
	cb := b.Txs[0].Bytes()
	const off = chain.CoinbaseExtraNonceOffset
	return &work{
		job: Job{
			PrevHash: b.Header.PrevBlock,
			Coinb1:   cb[:off],
			Coinb2:   cb[off+extranonce1Size+extranonce2Size:],
			Branch:   chain.MerkleBranch(b.TxHashes()),
			Version:  uint32(b.Header.Version),
			Bits:     b.Header.Bits,
			Time:     b.Header.Timestamp,
		},
		block:       b,
		blockTarget: chain.CompactToBig(b.Header.Bits),
		blockDiff:   chain.Difficulty(b.Header.Bits),
	}, nil
}

// solved returns the block a share completes: the coinbase rebuilt with the
// extranonces, the template's other transactions, and the share's header.
func (w *work) solved(extranonce1, extranonce2 []byte, h chain.Header) (*chain.Block, error) {
	cb, err := chain.DecodeTx(w.job.Coinbase(extranonce1, extranonce2))
	if err != nil {
		return nil, fmt.Errorf("stratum: rebuilt coinbase: %w", err)
	}
	txs := make([]*chain.Tx, 0, len(w.block.Txs))
	txs = append(txs, cb)
	return &chain.Block{Header: h, Txs: append(txs, w.block.Txs[1:]...)}, nil
}

// jobCache builds one work per payout address per tip and refresh: a
// thousand workers paying the node share one template, a thousand paying
// themselves get one each, built once however many connections ask.
type jobCache struct {
	templates Templates

	mu      sync.Mutex
	tip     chain.Hash // the chain's tip as last announced; zero until then
	entries map[chain.Address]*workEntry
}

// workEntry is one address's work, ready once built.
type workEntry struct {
	ready chan struct{}
	w     *work
	err   error
}

func newJobCache(t Templates) *jobCache {
	return &jobCache{templates: t, entries: map[chain.Address]*workEntry{}}
}

// renew forgets every work: the next get builds on tip, with the newest
// transactions.
func (c *jobCache) renew(tip chain.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tip = tip
	c.entries = map[chain.Address]*workEntry{}
}

// currentTip returns the tip as last announced.
func (c *jobCache) currentTip() chain.Hash {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tip
}

// stale reports work built on a block that is no longer the tip: its shares
// could only make a block off the main chain.
func (c *jobCache) stale(w *work) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.tip.IsZero() && w.job.PrevHash != c.tip
}

// get returns the work paying payTo, building it if no connection has.
func (c *jobCache) get(ctx context.Context, payTo chain.Address) (*work, error) {
	c.mu.Lock()
	e, ok := c.entries[payTo]
	if !ok {
		e = &workEntry{ready: make(chan struct{})}
		c.entries[payTo] = e
	}
	c.mu.Unlock()
	if ok {
		select {
		case <-e.ready:
			return e.w, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	b, err := c.templates.BlockTemplate(ctx, payTo)
	if err == nil {
		e.w, err = newWork(b)
	}
	if e.err = err; err != nil {
		e.err = fmt.Errorf("stratum: block template for %s: %w", payTo, err)
		c.mu.Lock()
		if c.entries[payTo] == e {
			delete(c.entries, payTo) // the next get tries again
		}
		c.mu.Unlock()
	}
	close(e.ready)
	return e.w, e.err
}
