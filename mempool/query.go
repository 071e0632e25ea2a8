package mempool

import (
	"container/heap"
	"fmt"
	"slices"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// Has reports whether a transaction is pending. It answers from the pool as
// it stands, without catching up with the tip: relay asks it for every
// announcement.
func (p *Pool) Has(id chain.Hash) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.byID[id]
	return ok
}

// Get returns a transaction pending at the chain's tip.
func (p *Pool) Get(id chain.Hash) (*chain.Tx, bool) {
	var e *entry
	p.view(func(*chain.View) error {
		e = p.byID[id]
		return nil
	})
	if e == nil {
		return nil, false
	}
	return e.tx, true
}

// Entry describes a pending transaction.
type Entry struct {
	Tx    *chain.Tx
	Size  int
	Added time.Time
}

// Stats sums up the pool.
type Stats struct {
	Count int // pending transactions
	Bytes int // their summed encoded size
	Fees  uint64
}

// Stats sums up the pool as of its last catch-up with the tip, without
// ordering it: cheap enough for every metrics scrape.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Count: len(p.byID), Bytes: p.bytes, Fees: p.fees}
}

// Entries lists the pending transactions in the order a block takes them:
// by fee rate, every sender's nonces in sequence.
func (p *Pool) Entries() ([]Entry, Stats, error) {
	var out []Entry
	var st Stats
	err := p.view(func(*chain.View) error {
		for _, e := range p.ordered(-1) {
			out = append(out, Entry{Tx: e.tx, Size: e.size, Added: e.added})
		}
		st = Stats{Count: len(p.byID), Bytes: p.bytes, Fees: p.fees}
		return nil
	})
	return out, st, err
}

// PendingIDs lists the txids of the pending transactions in the order
// Entries lists them, every sender's nonces in sequence: the order in which
// a peer that asks for them can admit them.
func (p *Pool) PendingIDs() ([]chain.Hash, error) {
	var ids []chain.Hash
	err := p.view(func(*chain.View) error {
		for _, e := range p.ordered(-1) {
			ids = append(ids, e.id)
		}
		return nil
	})
	return ids, err
}

// Account returns an address's state at the tip and how many of its
// transactions are pending: the next transfer it signs carries nonce
// acc.Nonce + pending.
func (p *Pool) Account(a chain.Address) (acc chain.Account, pending int, err error) {
	err = p.view(func(v *chain.View) error {
		if s, ok := p.senders[a]; ok {
			acc, pending = s.state, len(s.txs)
			return nil
		}
		acc, err = v.Account(a)
		return err
	})
	return acc, pending, err
}

// ErrStaleParent reports a template asked for a parent that is no longer the
// chain's tip. Its StaleParent method is how the miner, which sees the pool
// through an interface of its own, tells it from a failure.
var ErrStaleParent error = staleParentError{}

type staleParentError struct{}

func (staleParentError) Error() string     { return "mempool: the parent is no longer the tip" }
func (staleParentError) StaleParent() bool { return true }

// Template returns the best-paying transactions that fit in maxBytes for a
// block on parent, in an order valid to apply, with their fees.
func (p *Pool) Template(parent chain.Hash, maxBytes int) (txs []*chain.Tx, fees uint64, err error) {
	err = p.view(func(v *chain.View) error {
		if tip := v.Tip().Hash; tip != parent {
			return fmt.Errorf("%w: template for %s, tip is %s", ErrStaleParent, parent, tip)
		}
		for _, e := range p.ordered(maxBytes) {
			txs = append(txs, e.tx)
			fees += e.tx.Fee
		}
		return nil
	})
	return txs, fees, err
}

// ordered picks pending transactions greedily by fee rate: always the best
// next transaction of any sender, so every sender's nonces stay in sequence.
// A sender whose next transaction does not fit in maxBytes is done; a
// negative maxBytes takes everything.
func (p *Pool) ordered(maxBytes int) []*entry {
	heads := make(headHeap, 0, len(p.senders))
	for _, s := range p.senders {
		heads = append(heads, head{s: s})
	}
	heap.Init(&heads)
	out := make([]*entry, 0, len(p.byID))
	for heads.Len() > 0 {
		h := &heads[0]
		e := h.s.txs[h.i]
		if maxBytes >= 0 && e.size > maxBytes {
			heap.Pop(&heads)
			continue
		}
		out = append(out, e)
		maxBytes -= e.size
		if h.i++; h.i == len(h.s.txs) {
			heap.Pop(&heads)
		} else {
			heap.Fix(&heads, 0)
		}
	}
	return slices.Clip(out)
}
