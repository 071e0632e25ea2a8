package p2p

import (
	"slices"
	"sync"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/mempool"
)

// Mempool is what the peer layer needs of the transaction pool. Add's
// refusals are *mempool.RejectError, whose code says whose fault they are.
type Mempool interface {
	Add(tx *chain.Tx) error
	Has(id chain.Hash) bool
	Get(id chain.Hash) (*chain.Tx, bool)
	Entries() ([]mempool.Entry, mempool.Stats, error)
	Subscribe() (<-chan *chain.Tx, func())
}

const (
	maxKnownInv  = 20_000 // txids remembered per peer as seen by it
	maxRejected  = 20_000 // refused txids remembered, so announcements of them are not fetched
	maxRequested = 20_000 // txids remembered as asked for
	maxOrphans   = 1000   // transactions kept waiting for their sender's previous nonce
	// txRequestTimeout is how long a txid asked of one peer is not asked of
	// another: long enough for the answer, short enough that a peer that
	// never answers does not keep the transaction from us for good.
	txRequestTimeout = 30 * time.Second
)

// hashRing is a map from hashes that forgets its oldest hash once it holds
// max: what a peer has seen, or what was refused, only matters while the
// transaction is being relayed, and a peer must not be able to grow it.
type hashRing[V any] struct {
	max   int
	m     map[chain.Hash]V
	order []chain.Hash // a ring: next is the oldest once it is full
	next  int
}

func newHashRing[V any](max int) *hashRing[V] {
	return &hashRing[V]{max: max, m: make(map[chain.Hash]V)}
}

// put records v for h, reporting whether h was new.
func (r *hashRing[V]) put(h chain.Hash, v V) bool {
	if _, ok := r.m[h]; ok {
		r.m[h] = v
		return false
	}
	if len(r.order) < r.max {
		r.order = append(r.order, h)
	} else {
		delete(r.m, r.order[r.next])
		r.order[r.next] = h
		r.next = (r.next + 1) % r.max
	}
	r.m[h] = v
	return true
}

func (r *hashRing[V]) get(h chain.Hash) (V, bool) {
	v, ok := r.m[h]
	return v, ok
}

// orphanKey names a transaction by its place in its sender's sequence.
type orphanKey struct {
	from  chain.Address
	nonce uint64
}

// txState is what the server remembers so that each transaction is fetched
// once: what the pool refused, what has been asked for, and what arrived
// ahead of the transaction it follows.
type txState struct {
	mu        sync.Mutex
	rejected  *hashRing[chain.Hash] // txid → the tip it was refused at
	requested *hashRing[time.Time]  // txid → when a getdata asked for it
	// orphans were refused for a nonce gap. Transactions reach a node
	// over several peers, so a sender's next nonce can overtake the one
	// before it; it is admitted when that one is.
	orphans map[orphanKey]*chain.Tx
}

func newTxState() txState {
	return txState{
		rejected:  newHashRing[chain.Hash](maxRejected),
		requested: newHashRing[time.Time](maxRequested),
		orphans:   make(map[orphanKey]*chain.Tx),
	}
}

// wantTx reports whether to ask for an announced transaction, and if so
// records that it is asked for: one we have, one refused at this tip (a
// new tip may change its fate), or one asked of a peer within
// txRequestTimeout is not asked for again.
func (s *Server) wantTx(id, tip chain.Hash) bool {
	if s.pool.Has(id) {
		return false
	}
	now := time.Now()
	s.txs.mu.Lock()
	defer s.txs.mu.Unlock()
	if at, ok := s.txs.rejected.get(id); ok && at == tip {
		return false
	}
	if at, ok := s.txs.requested.get(id); ok && now.Sub(at) < txRequestTimeout {
		return false
	}
	s.txs.requested.put(id, now)
	return true
}

// onTx offers a peer's transaction to the pool. An admitted one is
// announced on by relay; a refused one is remembered, so its announcements
// are not fetched again, and its sender is banned when the transaction
// breaks a consensus rule, as for an invalid block.
func (s *Server) onTx(p *peer, tx *chain.Tx) {
	id := tx.Hash()
	p.seen(id) // never announced back to the peer it came from
	err := s.pool.Add(tx)
	code := mempool.Code(err)
	switch code {
	case "":
		if err != nil {
			s.log.Error("add transaction from peer", "addr", p.addr, "txid", id, "err", err)
		}
		return
	case mempool.ErrKnown:
		return
	case mempool.ErrNonceGap:
		s.keepOrphan(tx)
	case mempool.ErrNonceTooLow, mempool.ErrFeeTooLow, mempool.ErrInsufficientFunds,
		mempool.ErrReplacementFee, mempool.ErrFull:
		// Pool state and policy, which differ between nodes: no fault.
	default:
		s.misbehave(p, banThreshold, err)
	}
	s.log.Debug("transaction from peer refused", "addr", p.addr, "txid", id, "code", code)
	tip := s.chain.Tip().Hash
	s.txs.mu.Lock()
	s.txs.rejected.put(id, tip)
	s.txs.mu.Unlock()
}

// keepOrphan keeps a transaction refused for a nonce gap until the
// transaction before it is admitted; when full, a random one makes room.
func (s *Server) keepOrphan(tx *chain.Tx) {
	s.txs.mu.Lock()
	defer s.txs.mu.Unlock()
	if len(s.txs.orphans) >= maxOrphans {
		for k := range s.txs.orphans {
			delete(s.txs.orphans, k)
			break
		}
	}
	s.txs.orphans[orphanKey{tx.Sender(), tx.Nonce}] = tx
}

// adoptOrphan offers the pool the orphan that follows tx, just admitted.
// Once admitted, relay sees it in turn and adopts the one after it.
func (s *Server) adoptOrphan(tx *chain.Tx) {
	key := orphanKey{tx.Sender(), tx.Nonce + 1}
	s.txs.mu.Lock()
	next := s.txs.orphans[key]
	delete(s.txs.orphans, key)
	s.txs.mu.Unlock()
	if next == nil {
		return
	}
	if err := s.pool.Add(next); err != nil {
		s.log.Debug("orphan transaction refused", "txid", next.Hash(), "err", err)
	}
}

// waiting returns first and the admitted transactions waiting behind it,
// up to MaxInvItems: what is waiting goes out together, in one inv per peer.
func waiting(txs <-chan *chain.Tx, first *chain.Tx) []*chain.Tx {
	batch := []*chain.Tx{first}
	for len(batch) < MaxInvItems {
		select {
		case tx := <-txs:
			batch = append(batch, tx)
		default:
			return batch
		}
	}
	return batch
}

// announceTxs announces admitted transactions to every ready peer that has
// not seen them, in one inv per peer (txs holds at most MaxInvItems).
func (s *Server) announceTxs(txs []*chain.Tx) {
	ids := txIDs(txs)
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.peers {
		if p.ready() {
			for _, inv := range txInvs(p.seen(ids...)) {
				p.send(inv)
			}
		}
	}
}

// answerMempool announces our pending transactions to a peer that asked.
// The pool admits a sender's nonces only in order, and the peer asks for
// what it lacks in the order announced: the pool's block order keeps every
// sender's nonces in sequence.
func (s *Server) answerMempool(p *peer) {
	entries, _, err := s.pool.Entries()
	if err != nil {
		s.log.Error("list pending transactions", "err", err)
		return
	}
	ids := make([]chain.Hash, len(entries))
	for i, e := range entries {
		ids[i] = e.Tx.Hash()
	}
	for _, inv := range txInvs(p.seen(ids...)) {
		p.answer(inv)
	}
}

func txIDs(txs []*chain.Tx) []chain.Hash {
	ids := make([]chain.Hash, len(txs))
	for i, tx := range txs {
		ids[i] = tx.Hash()
	}
	return ids
}

// txInvs announces txids in order, in invs of at most MaxInvItems items.
func txInvs(ids []chain.Hash) []*MsgInv {
	var invs []*MsgInv
	for chunk := range slices.Chunk(ids, MaxInvItems) {
		inv := &MsgInv{invList{Items: make([]InvItem, len(chunk))}}
		for i, id := range chunk {
			inv.Items[i] = InvItem{Type: InvTx, Hash: id}
		}
		invs = append(invs, inv)
	}
	return invs
}
