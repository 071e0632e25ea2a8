// Package chain owns the block chain: block, header and transaction types and
// their encoding, proof of work, network parameters, validation in layers,
// account state, and fork choice by cumulative work.
package chain

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"time"
)

// Store persists blocks, the block index, the main chain and account state.
// Connect, ConnectBlocks and Disconnect are each one atomic transaction, so
// a crash leaves the store at a block boundary.
type Store interface {
	AccountReader
	LoadIndex(fn func(IndexEntry) error) error
	Tip() (Hash, error) // the zero hash when the store is empty
	PutBlock(e IndexEntry, raw []byte) error
	SetStatus(h Hash, s Status) error
	Block(h Hash) (*Block, error)
	Undo(h Hash) ([]AccountChange, error)
	TxBlock(txid Hash) (Hash, bool, error) // the main-chain block holding txid
	Connect(u Update) error
	// ConnectBlocks stores and connects blocks, each the child of the one
	// before, in one atomic transaction: PutBlock and Connect of each.
	ConnectBlocks(bs []BlockUpdate) error
	Disconnect(u Update) error
}

// BlockUpdate is a block stored and connected in one step, as a sync
// connects blocks in runs: its index entry, its encoding and the move of
// the main chain onto it.
type BlockUpdate struct {
	Entry  IndexEntry
	Raw    []byte
	Update Update
}

// Update moves the main chain by one block: Connect adds block Hash at Height,
// writes every change's New and indexes Txs under Hash; Disconnect removes it,
// writes every Old and drops Txs from the index. Tip is the main chain's tip
// afterwards.
type Update struct {
	Hash    Hash
	Height  uint64
	Tip     Hash
	Changes []AccountChange
	Txs     []Hash
}

// Tip describes the main chain's last block.
type Tip struct {
	Hash   Hash
	Height uint64
	Header Header
	Work   *big.Int // cumulative
}

// Chain is the block tree of one network with its most-work main chain. It is
// safe for concurrent use; blocks are processed one at a time.
type Chain struct {
	params *Params
	store  Store
	log    *slog.Logger

	mu        sync.RWMutex
	index     map[Hash]*blockNode
	main      []*blockNode // main[h] is the main-chain block at height h
	best      *blockNode   // most-work block not known invalid: where the main chain heads
	connected time.Time    // when the tip was last connected, for the log's interval
	options

	subMu sync.Mutex
	subs  map[chan Tip]struct{}

	stats *stats
}

// options are what Options set: the clock and the signature cache.
type options struct {
	now  func() time.Time
	sigs *SigCache
}

// newOptions applies opts to the defaults: the system clock, no cache.
func newOptions(opts []Option) options {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Option changes how New builds a chain (or how Verify checks one).
type Option func(*options)

// WithClock has the chain read the time from now instead of the system
// clock: how far ahead of it a block's time may be, and the templates'
// least and most time. A simulator gives its nodes its virtual clock.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithSigCache has the chain skip the signature checks sigs knows passed
// (the mempool's, when they share it) and record those it makes.
func WithSigCache(sigs *SigCache) Option { return func(o *options) { o.sigs = sigs } }

// New loads the chain from s, writing the genesis block into an empty store,
// and finishes any reorganisation a crash interrupted.
func New(p *Params, s Store, log *slog.Logger, opts ...Option) (*Chain, error) {
	c := &Chain{
		params:  p,
		store:   s,
		log:     log,
		index:   make(map[Hash]*blockNode),
		subs:    make(map[chan Tip]struct{}),
		stats:   newStats(),
		options: newOptions(opts),
	}
	c.connected = c.now()
	var entries []IndexEntry
	if err := s.LoadIndex(func(e IndexEntry) error {
		entries = append(entries, e)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("load block index: %w", err)
	}
	tip, err := s.Tip()
	if err != nil {
		return nil, fmt.Errorf("read tip: %w", err)
	}
	// Genesis is stored, then connected, in two transactions: a crash between
	// them leaves it alone in the index with no tip, and writing it again
	// finishes the first start.
	if len(entries) == 0 || len(entries) == 1 && tip.IsZero() && entries[0].Header.Hash() == p.GenesisHash() {
		if err := c.writeGenesis(); err != nil {
			return nil, err
		}
		return c, nil
	}
	if err := c.loadIndex(entries); err != nil {
		return nil, err
	}
	if _, err := c.activateBest(nil); err != nil {
		return nil, fmt.Errorf("resume main chain: %w", err)
	}
	return c, nil
}

func (c *Chain) writeGenesis() error {
	g := c.params.Genesis
	n := newBlockNode(g.Header, nil)
	if err := c.store.PutBlock(n.entry(), g.Bytes()); err != nil {
		return fmt.Errorf("store genesis: %w", err)
	}
	c.index[n.hash] = n
	c.best = n
	return c.connect(n, g)
}

func (c *Chain) loadIndex(entries []IndexEntry) error {
	// Parents sort before children by height.
	slices.SortStableFunc(entries, func(a, b IndexEntry) int { return int(a.Height) - int(b.Height) })
	genesis := c.params.GenesisHash()
	for _, e := range entries {
		var parent *blockNode
		if e.Height == 0 {
			if h := e.Header.Hash(); h != genesis {
				return fmt.Errorf("store holds genesis %s, network %s has %s: wrong --network or --datadir?", h, c.params.Name, genesis)
			}
		} else if parent = c.index[e.Header.PrevBlock]; parent == nil {
			return fmt.Errorf("block index: block at height %d has unknown parent %s", e.Height, e.Header.PrevBlock)
		}
		n := newBlockNode(e.Header, parent)
		n.status = e.Status
		if parent != nil && parent.status&StatusInvalid != 0 {
			n.status |= StatusInvalid
		}
		c.index[n.hash] = n
	}
	tipHash, err := c.store.Tip()
	if err != nil {
		return fmt.Errorf("read tip: %w", err)
	}
	tip := c.index[tipHash]
	if tip == nil {
		return fmt.Errorf("stored tip %s is not in the block index", tipHash)
	}
	c.main = make([]*blockNode, tip.height+1)
	for n := tip; n != nil; n = n.parent {
		c.main[n.height] = n
	}
	c.best = c.findBest(c.tip())
	return nil
}

// Params returns the network's consensus parameters.
func (c *Chain) Params() *Params { return c.params }

// Tip returns the main chain's last block.
func (c *Chain) Tip() Tip {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tipLocked()
}

func (c *Chain) tipLocked() Tip {
	n := c.tip()
	return Tip{Hash: n.hash, Height: n.height, Header: n.header, Work: new(big.Int).Set(n.work)}
}

func (c *Chain) tip() *blockNode { return c.main[len(c.main)-1] }

// NextBlock is what a block built on the tip must satisfy.
type NextBlock struct {
	Parent  Hash
	Height  uint64
	Bits    uint32
	MinTime uint32 // earliest timestamp: one second past the median time past
	// MaxTime is the latest timestamp the network accepts now. Blocks faster
	// than one a second push MinTime ahead of the clock; past MaxTime no block
	// can be valid until the clock catches up.
	MaxTime uint32
	Subsidy uint64
	// Now is the chain's clock as it answered: the time a block made now
	// carries, unless MinTime is later.
	Now time.Time
}

// NextBlock returns the rules for a block that extends the tip.
func (c *Chain) NextBlock() NextBlock {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t := c.tip()
	now := c.now()
	return NextBlock{
		Parent:  t.hash,
		Height:  t.height + 1,
		Bits:    c.params.nextBits(t),
		MinTime: t.medianTimePast() + 1,
		MaxTime: uint32(now.Add(c.params.MaxFutureTime).Unix()),
		Now:     now,
		Subsidy: c.params.SubsidyAt(t.height + 1),
	}
}

// Subscribe returns a channel that receives the tip after every change of the
// main chain. Only the latest tip is kept for a slow reader; cancel ends the
// subscription.
func (c *Chain) Subscribe() (tips <-chan Tip, cancel func()) {
	ch := make(chan Tip, 1)
	c.subMu.Lock()
	c.subs[ch] = struct{}{}
	c.subMu.Unlock()
	return ch, func() {
		c.subMu.Lock()
		delete(c.subs, ch)
		c.subMu.Unlock()
	}
}

func (c *Chain) notify(t Tip) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	for ch := range c.subs {
		select {
		case <-ch: // drop the stale tip the reader has not taken yet
		default:
		}
		ch <- t
	}
}

// ProcessBlock validates a block from any source (the miner, a peer, an RPC),
// stores it, and moves the main chain to the most-work valid branch. Every
// block enters the chain through here. Broken rules return a *RuleError.
func (c *Chain) ProcessBlock(ctx context.Context, b *Block) error {
	start := time.Now()
	hash := b.Hash()
	// Peers relay what we have; answer a known block before checking signatures.
	c.mu.RLock()
	n, known := c.index[hash]
	unconnected := known && c.unconnected(n)
	c.mu.RUnlock()
	if known && !unconnected {
		return ruleErrorf(ErrDuplicateBlock, "block %s is already known", hash)
	}
	// Known blocks return above, before the clock starts to matter: the
	// histogram measures the blocks that were checked.
	defer func() { c.stats.observeValidation(time.Since(start)) }()
	raw := b.Bytes()
	if err := checkBlockSanity(b, len(raw), c.params, c.now(), c.sigs); err != nil {
		return err
	}

	c.mu.Lock()
	oldTip := c.tip()
	n, err := c.acceptBlock(b, hash, raw)
	newTip := c.tipLocked()
	c.mu.Unlock()

	if newTip.Hash != oldTip.hash {
		c.notify(newTip)
	}
	if err != nil {
		return err
	}
	if n.status&StatusInvalid != 0 {
		return ruleErrorf(ErrInvalidAncestor, "block %s is on a branch with an invalid block", hash)
	}
	return nil
}

// unconnected reports whether n is stored and on the way to c.best but not
// on the main chain: a store error (a full disk) stopped the move there.
// Offering n again retries the move, so whoever holds it (the miner that
// found it, a peer) gets it connected rather than refused as a duplicate.
func (c *Chain) unconnected(n *blockNode) bool {
	// Peers offer known blocks all the time: answer from the main chain
	// first, and walk back from c.best only in the rare state where it is
	// ahead of the tip.
	if c.best == c.tip() || n.height < uint64(len(c.main)) && c.main[n.height] == n {
		return false
	}
	return c.best.ancestor(n.height) == n
}

func (c *Chain) acceptBlock(b *Block, hash Hash, raw []byte) (*blockNode, error) {
	if n, ok := c.index[hash]; ok {
		if !c.unconnected(n) {
			return nil, ruleErrorf(ErrDuplicateBlock, "block %s is already known", hash)
		}
		// The stored copy is the one that passed every check: b may differ
		// in what the header's hash does not commit to.
		return n, c.activate(n, nil)
	}
	parent := c.index[b.Header.PrevBlock]
	if parent == nil {
		return nil, ruleErrorf(ErrOrphan, "block %s: parent %s is unknown", hash, b.Header.PrevBlock)
	}
	if parent.status&StatusInvalid != 0 {
		return nil, ruleErrorf(ErrInvalidAncestor, "block %s builds on invalid block %s", hash, parent.hash)
	}
	if err := checkBlockContext(b, parent, c.params); err != nil {
		return nil, err
	}
	n := newBlockNode(b.Header, parent)
	if err := c.store.PutBlock(n.entry(), raw); err != nil {
		return nil, fmt.Errorf("store block %s: %w", hash, err)
	}
	c.index[hash] = n
	// Strictly more work: on a tie the branch seen first stays.
	if n.work.Cmp(c.best.work) > 0 {
		c.best = n
	}
	return n, c.activate(n, b)
}

// activate moves the main chain to c.best once n is stored, and returns a
// store error, or the rule error that made n invalid.
func (c *Chain) activate(n *blockNode, pending *Block) error {
	ruleErr, err := c.activateBest(pending)
	if err != nil {
		return err
	}
	if n.status&StatusInvalid != 0 && ruleErr != nil {
		return ruleErr
	}
	return nil
}

// activateBest moves the main chain to c.best one block at a time. A block
// that breaks a stateful rule is marked invalid with its descendants, c.best is
// chosen again, and the loop goes on, so the chain ends on the most-work valid
// branch. pending is a block not yet read back from the store, if any. The
// first rule error met is returned beside any store error.
func (c *Chain) activateBest(pending *Block) (ruleErr, err error) {
	// The tip before any move: if c.best fails, ties go back to it, the
	// branch seen first, not to whichever tied block the map yields first.
	prev := c.tip()
	for c.tip() != c.best {
		fork := findFork(c.tip(), c.best)
		detached := c.tip().height - fork.height
		for c.tip() != fork {
			if err := c.disconnectTip(); err != nil {
				return ruleErr, err
			}
		}
		var path []*blockNode
		for n := c.best; n != fork; n = n.parent {
			path = append(path, n)
		}
		slices.Reverse(path)
		if detached > 0 {
			c.stats.reorg()
			c.log.Warn("reorganize", "fork_height", fork.height, "detached", detached, "attached", len(path), "new_tip", c.best.hash)
		}
		for _, n := range path {
			blk := pending
			if blk == nil || n.hash != blk.Hash() {
				if blk, err = c.store.Block(n.hash); err != nil {
					return ruleErr, fmt.Errorf("read block %s: %w", n.hash, err)
				}
			}
			if err := c.connect(n, blk); err != nil {
				if Code(err) == "" {
					return ruleErr, err
				}
				if ruleErr == nil {
					ruleErr = err
				}
				c.log.Warn("invalid block", "hash", n.hash, "height", n.height, "err", err)
				c.markInvalid(n, prev)
				break
			}
		}
	}
	return ruleErr, nil
}

// connect applies n's block to the account state and makes it the tip.
func (c *Chain) connect(n *blockNode, b *Block) error {
	changes, err := applyBlock(c.store, b, n.height, c.params)
	if err != nil {
		return err
	}
	if err := c.store.Connect(n.update(b, changes)); err != nil {
		return fmt.Errorf("connect block %s: %w", n.hash, err)
	}
	c.main = append(c.main, n)
	now := c.now()
	c.log.Info("block connected", "height", n.height, "hash", n.hash, "txs", len(b.Txs),
		"interval", now.Sub(c.connected).Round(time.Millisecond))
	c.connected = now
	return nil
}

func (c *Chain) disconnectTip() error {
	n := c.tip()
	changes, err := c.store.Undo(n.hash)
	if err != nil {
		return fmt.Errorf("read undo data of %s: %w", n.hash, err)
	}
	b, err := c.store.Block(n.hash)
	if err != nil {
		return fmt.Errorf("read block %s: %w", n.hash, err)
	}
	if err := c.store.Disconnect(Update{Hash: n.hash, Height: n.height, Tip: n.parent.hash, Changes: changes, Txs: b.TxHashes()}); err != nil {
		return fmt.Errorf("disconnect block %s: %w", n.hash, err)
	}
	c.main = c.main[:len(c.main)-1]
	return nil
}

// markInvalid records that n broke a rule; its descendants are invalid too.
// c.best is chosen again, preferring prefer (a valid block) on a tie.
func (c *Chain) markInvalid(n *blockNode, prefer *blockNode) {
	n.status |= StatusInvalid
	if err := c.store.SetStatus(n.hash, n.status); err != nil {
		c.log.Error("store block status", "hash", n.hash, "err", err)
	}
	for _, d := range c.index {
		if d.height > n.height && d.ancestor(n.height) == n {
			d.status |= StatusInvalid
		}
	}
	c.best = c.findBest(prefer)
}

// findBest returns the most-work block not known invalid, preferring prefer
// (a valid block) on a tie.
func (c *Chain) findBest(prefer *blockNode) *blockNode {
	best := prefer
	for _, n := range c.index {
		if n.status&StatusInvalid == 0 && n.work.Cmp(best.work) > 0 {
			best = n
		}
	}
	return best
}

// findFork returns the last block a and b share.
func findFork(a, b *blockNode) *blockNode {
	for a.height > b.height {
		a = a.parent
	}
	for b.height > a.height {
		b = b.parent
	}
	for a != b {
		a, b = a.parent, b.parent
	}
	return a
}
