// Package mempool keeps the transactions waiting for a block: each admitted
// against the tip's account state plus its sender's earlier pending
// transactions, ordered by fee rate with every sender's nonces in sequence,
// capped in size by evicting the lowest fee rates, expired after a while, and
// brought back in line with the chain whenever its tip moves.
package mempool

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/internal/fanout"
)

// Chain is what the pool reads of the chain.
type Chain interface {
	Params() *chain.Params
	View(fn func(*chain.View) error) error
	Subscribe() (<-chan chain.Tip, func())
}

// Config sets the pool's policy. None of it is consensus: blocks from peers
// may carry transactions this pool would refuse.
type Config struct {
	// MinFeeRate is the least fee a transfer pays per byte of its encoding.
	MinFeeRate uint64
	// MaxBytes caps the summed encoded size of pending transactions.
	MaxBytes int
	// Expiry is how long a transaction may wait unconfirmed.
	Expiry time.Duration
	// Clock is where the pool reads the time, for expiry; nil is the
	// system clock. A simulator gives its nodes its virtual clock.
	Clock func() time.Time
	// SigCache, shared with the chain (chain.WithSigCache), records the
	// signatures the pool checked so that blocks need not check them
	// again; nil checks every time.
	SigCache *chain.SigCache
}

// DefaultConfig is the policy of a node started without mempool flags.
func DefaultConfig() Config {
	return Config{MinFeeRate: 1, MaxBytes: 64 << 20, Expiry: 24 * time.Hour}
}

// subscriberBuffer is how many admitted transactions a slow subscriber may
// lag behind before it misses some.
const subscriberBuffer = 4096

// Pool is the transaction pool of one node. It is safe for concurrent use.
type Pool struct {
	chain Chain
	cfg   Config
	magic [4]byte
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	tip     chain.Hash // the tip the pool's state was checked against
	byID    map[chain.Hash]*entry
	senders map[chain.Address]*sender
	byFee   feeHeap // lowest fee rate first: the eviction order
	bytes   int
	fees    uint64
	seq     uint64 // counts admissions, to order equal fee rates by arrival

	admitted fanout.Fanout[*chain.Tx] // every transaction the pool admits, for relay
}

// entry is one pending transaction.
type entry struct {
	tx     *chain.Tx
	id     chain.Hash
	from   chain.Address
	size   int
	added  time.Time
	seq    uint64 // admission order
	feeIdx int    // position in Pool.byFee
}

func (e *entry) cost() uint64 { return e.tx.Amount + e.tx.Fee }

// pays reports whether e pays a higher fee per byte than o.
func (e *entry) pays(o *entry) bool {
	// Fees are below 2^51 and sizes below 2^12: the products fit.
	return e.tx.Fee*uint64(o.size) > o.tx.Fee*uint64(e.size)
}

// sender is an account with pending transactions: its state at the tip and
// its transactions, whose nonces run on from state.Nonce without a gap.
type sender struct {
	addr  chain.Address
	state chain.Account
	txs   []*entry
	cost  uint64 // what txs spend together, amounts plus fees
}

func (s *sender) nextNonce() uint64 { return s.state.Nonce + uint64(len(s.txs)) }

// New returns an empty pool for the chain's tip; Run keeps it in step.
func New(c Chain, cfg Config, log *slog.Logger) *Pool {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	p := &Pool{
		chain:   c,
		cfg:     cfg,
		magic:   c.Params().Magic,
		log:     log,
		now:     cfg.Clock,
		byID:    make(map[chain.Hash]*entry),
		senders: make(map[chain.Address]*sender),
	}
	c.View(func(v *chain.View) error {
		p.tip = v.Tip().Hash
		return nil
	})
	return p
}

// Run follows the chain's tip and expires old transactions until ctx ends.
// Every method also catches up with the tip by itself; Run only makes
// confirmed transactions leave promptly when nobody asks.
func (p *Pool) Run(ctx context.Context) {
	tips, cancel := p.chain.Subscribe()
	defer cancel()
	// A tip that came between New and the subscription sends no event:
	// catch up with it now.
	p.view(func(*chain.View) error { return nil })
	expire := time.NewTicker(min(p.cfg.Expiry/10, time.Minute))
	defer expire.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tips:
			p.view(func(*chain.View) error { return nil })
		case <-expire.C:
			p.expire()
		}
	}
}

// view runs fn holding the pool's lock, with the chain held still and the
// pool's state checked against its tip.
func (p *Pool) view(fn func(*chain.View) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.chain.View(func(v *chain.View) error {
		if err := p.catchUp(v); err != nil {
			return err
		}
		return fn(v)
	})
}

// MinFee is the least fee a transfer of size bytes must pay.
func (p *Pool) MinFee(size int) uint64 { return p.cfg.MinFeeRate * uint64(size) }

// Add admits a transfer. A refusal is a *RejectError naming the rule.
func (p *Pool) Add(tx *chain.Tx) error { return p.add(tx, p.now()) }

// add admits a transfer that arrived at added: now, or when it first came
// for one saved before a restart, so it expires when it would have.
func (p *Pool) add(tx *chain.Tx, added time.Time) error {
	if tx.IsCoinbase() {
		return reject(ErrCoinbase, "a coinbase only comes inside a block")
	}
	e := &entry{tx: tx, id: tx.Hash(), from: tx.Sender(), size: tx.Size(), added: added}
	if p.Has(e.id) {
		return reject(ErrKnown, "transaction %s is already pending", e.id)
	}
	if want := p.MinFee(e.size); tx.Fee < want {
		return reject(ErrFeeTooLow, "fee %d is below the minimum of %d for %d bytes (%d per byte)", tx.Fee, want, e.size, p.cfg.MinFeeRate)
	}
	// The signature check is the expensive part: it runs before any lock.
	if err := tx.CheckSanity(p.magic, p.cfg.SigCache); err != nil {
		return &RejectError{Code: ErrorCode(chain.Code(err)), Msg: err.Error()}
	}
	var err error
	if verr := p.view(func(v *chain.View) error {
		err = p.admit(v, e)
		return nil
	}); verr != nil {
		return verr
	}
	if err == nil {
		p.publish(tx)
	}
	return err
}

// admit checks e against its sender's state and pending transactions and
// puts it in the pool, replacing a pending transaction of the same nonce if e
// pays enough more.
func (p *Pool) admit(v *chain.View, e *entry) error {
	if _, ok := p.byID[e.id]; ok {
		return reject(ErrKnown, "transaction %s is already pending", e.id)
	}
	s, err := p.sender(v, e.from)
	if err != nil {
		return err
	}
	nonce := e.tx.Nonce
	switch {
	case nonce < s.state.Nonce:
		return reject(ErrNonceTooLow, "sender nonce %d is spent: account %s is at %d", nonce, e.from, s.state.Nonce)
	case nonce > s.nextNonce():
		return reject(ErrNonceGap, "sender nonce %d leaves a gap: account %s expects %d", nonce, e.from, s.nextNonce())
	case nonce < s.nextNonce():
		return p.replace(s, e)
	}
	if s.cost+e.cost() > s.state.Balance {
		return reject(ErrInsufficientFunds, "spends %d with %d pending, balance %d", e.cost(), s.cost, s.state.Balance)
	}
	p.insert(s, e)
	return p.trim(e)
}

// replace swaps the pending transaction with e's nonce for e. Like bitcoind's
// replace-by-fee, the newcomer must pay a higher fee rate and at least the
// minimum fee for its own relay on top of the old fee.
func (p *Pool) replace(s *sender, e *entry) error {
	i := int(e.tx.Nonce - s.state.Nonce)
	old := s.txs[i]
	if !e.pays(old) || e.tx.Fee < old.tx.Fee+p.MinFee(e.size) {
		return reject(ErrReplacementFee, "nonce %d is pending as %s with fee %d: a replacement must pay at least %d and a higher fee rate",
			e.tx.Nonce, old.id, old.tx.Fee, old.tx.Fee+p.MinFee(e.size))
	}
	if s.cost-old.cost()+e.cost() > s.state.Balance {
		return reject(ErrInsufficientFunds, "replacement spends %d with %d pending, balance %d", e.cost(), s.cost-old.cost(), s.state.Balance)
	}
	p.unindex(old)
	s.cost -= old.cost()
	s.txs[i] = e
	p.index(s, e)
	return p.trim(e)
}

// sender returns from's pending state. A sender new to the pool gets its
// account read at the tip, and joins the pool with its first transaction.
func (p *Pool) sender(v *chain.View, from chain.Address) (*sender, error) {
	if s, ok := p.senders[from]; ok {
		return s, nil
	}
	acc, err := v.Account(from)
	if err != nil {
		return nil, fmt.Errorf("read account %s: %w", from, err)
	}
	return &sender{addr: from, state: acc}, nil
}

// insert appends e, whose nonce is the sender's next, to the pool.
func (p *Pool) insert(s *sender, e *entry) {
	p.senders[s.addr] = s
	s.txs = append(s.txs, e)
	p.index(s, e)
}

func (p *Pool) index(s *sender, e *entry) {
	if e.seq == 0 { // a transaction coming back after a new tip keeps its place
		p.seq++
		e.seq = p.seq
	}
	s.cost += e.cost()
	p.byID[e.id] = e
	heap.Push(&p.byFee, e)
	p.bytes += e.size
	p.fees += e.tx.Fee
}

func (p *Pool) unindex(e *entry) {
	delete(p.byID, e.id)
	heap.Remove(&p.byFee, e.feeIdx)
	p.bytes -= e.size
	p.fees -= e.tx.Fee
}

// dropFrom removes the transactions of s from position i on: a transaction
// cannot stay once one before it in nonce order has gone.
func (p *Pool) dropFrom(s *sender, i int) {
	for _, e := range s.txs[i:] {
		p.unindex(e)
		s.cost -= e.cost()
	}
	s.txs = s.txs[:i]
	if len(s.txs) == 0 {
		delete(p.senders, s.addr)
	}
}

// shrink evicts the lowest fee rates, each with the transactions that follow
// it, until the pool fits its cap again.
func (p *Pool) shrink() {
	for p.bytes > p.cfg.MaxBytes {
		low := p.byFee[0]
		s := p.senders[low.from]
		p.dropFrom(s, int(low.tx.Nonce-s.state.Nonce))
	}
}

// trim shrinks the pool after e was admitted, and reports mempool-full when
// e itself had to go.
func (p *Pool) trim(e *entry) error {
	p.shrink()
	if _, ok := p.byID[e.id]; !ok {
		return reject(ErrFull, "the pool is full and %s pays too little per byte to evict anything", e.id)
	}
	return nil
}

// catchUp brings the pool in line with the chain's tip: transactions of
// blocks that left the main chain come back, confirmed ones leave, and every
// sender's sequence is checked again against its new state.
func (p *Pool) catchUp(v *chain.View) error {
	tip := v.Tip().Hash
	if tip == p.tip {
		return nil
	}
	detached, err := v.Detached(p.tip)
	if err != nil {
		// Only a store that cannot read a block gets here. Losing what
		// those blocks held beats a pool that refuses everything after.
		p.log.Error("mempool: read the blocks a reorganisation detached; their transactions are dropped", "from", p.tip, "err", err)
		detached = nil
	}
	var back []*entry
	now := p.now()
	for _, b := range detached {
		for _, tx := range b.Txs[1:] {
			back = append(back, &entry{tx: tx, id: tx.Hash(), from: tx.Sender(), size: tx.Size(), added: now})
		}
	}
	// A detached transaction was valid in its block, so its signature
	// holds; only state and policy are checked again.
	pending := slices.Collect(maps.Values(p.byID))
	p.byID = make(map[chain.Hash]*entry, len(pending)+len(back))
	p.senders = make(map[chain.Address]*sender)
	p.byFee = p.byFee[:0]
	p.bytes, p.fees = 0, 0
	p.tip = tip

	bySender := make(map[chain.Address][]*entry)
	for _, e := range append(back, pending...) {
		bySender[e.from] = append(bySender[e.from], e)
	}
	for from, es := range bySender {
		// Stable: a detached transaction comes before a pending one of the
		// same nonce (it was valid first), and the duplicate is skipped.
		slices.SortStableFunc(es, func(a, b *entry) int { return cmp.Compare(a.tx.Nonce, b.tx.Nonce) })
		s, err := p.sender(v, from)
		if err != nil {
			return err
		}
		for _, e := range es {
			if e.tx.Nonce < s.nextNonce() || e.tx.Fee < p.MinFee(e.size) {
				continue // confirmed, the twin of one already in, or below our policy
			}
			if e.tx.Nonce > s.nextNonce() || s.cost+e.cost() > s.state.Balance {
				break // a gap or an overspend: nothing after it can follow
			}
			p.insert(s, e)
		}
	}
	p.shrink()
	if len(detached) == 0 {
		return nil
	}
	// Peers that followed the same reorganisation bring theirs back too;
	// announcing ours reaches the miners of the new branch regardless.
	returned := 0
	for _, e := range back {
		if p.byID[e.id] == e {
			returned++
			p.publish(e.tx)
		}
	}
	p.log.Info("mempool follows a reorganisation", "detached_blocks", len(detached), "returned", returned, "pending", len(p.byID))
	return nil
}

// expire drops transactions that waited longer than the expiry, with the
// ones that follow them.
func (p *Pool) expire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	cutoff := p.now().Add(-p.cfg.Expiry)
	dropped := len(p.byID)
	for _, s := range p.senders {
		if i := slices.IndexFunc(s.txs, func(e *entry) bool { return e.added.Before(cutoff) }); i >= 0 {
			p.dropFrom(s, i)
		}
	}
	if dropped -= len(p.byID); dropped > 0 {
		p.log.Info("mempool expired transactions", "dropped", dropped, "pending", len(p.byID))
	}
}

// Subscribe returns a channel that receives every transaction the pool
// admits, for relay. A subscriber more than a few thousand behind misses
// some; cancel ends the subscription.
func (p *Pool) Subscribe() (txs <-chan *chain.Tx, cancel func()) {
	return p.admitted.Subscribe(subscriberBuffer)
}

func (p *Pool) publish(tx *chain.Tx) {
	if p.admitted.Publish(tx) > 0 {
		p.log.Warn("mempool subscriber is behind; a transaction goes unannounced", "txid", tx.Hash())
	}
}
