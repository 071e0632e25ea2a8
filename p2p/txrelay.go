package p2p

import (
	"bytes"
	"cmp"
	"errors"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// Mempool is what the peer layer needs of the transaction pool.
type Mempool interface {
	// Add offers a transaction. A refusal is an error with the methods
	// AlreadyPending, NonceGap and Invalid (txRefusal, found with
	// errors.As); any other error is the pool's own failure.
	Add(tx *chain.Tx) error
	Has(id chain.Hash) bool
	Get(id chain.Hash) (*chain.Tx, bool)
	// PendingIDs lists the pending txids in the order a block takes them,
	// every sender's nonces in sequence.
	PendingIDs() ([]chain.Hash, error)
	Subscribe() (<-chan *chain.Tx, func())
}

// txRefusal is a refusal of Mempool.Add that says what it means for the
// peer that sent the transaction, as net.Error says whether an error is a
// timeout: the peer layer decides from it whom to ban without knowing the
// pool's codes, and the pool need not know the peer layer. A refusal that is
// none of the three is the pool's state or policy, which differ between
// nodes: no fault of the peer.
type txRefusal interface {
	error
	// AlreadyPending: the pool has the transaction; nothing was refused.
	AlreadyPending() bool
	// NonceGap: the sender's earlier nonces are missing; the transaction
	// may be admitted once they are.
	NonceGap() bool
	// Invalid: the transaction breaks a consensus rule whatever the state,
	// which bans its sender as an invalid block does.
	Invalid() bool
}

const (
	maxKnownInv  = 20_000 // txids remembered per peer as seen by it
	maxRejected  = 20_000 // refused txids remembered, so announcements of them are not fetched
	maxRequested = 20_000 // txids remembered as asked for
	maxOrphans   = 1000   // transactions kept waiting for their sender's previous nonce
	// maxRequestedBlocks bounds the announced blocks remembered as asked
	// for: a few are new at a time.
	maxRequestedBlocks = 256
	// txRequestTimeout is how long a txid asked of one peer is not asked of
	// another: long enough for the answer, short enough that a peer that
	// never answers does not keep the transaction from us for good.
	txRequestTimeout = 30 * time.Second
)

// orphanKey names a transaction by its place in its sender's sequence.
type orphanKey struct {
	from  chain.Address
	nonce uint64
}

// txState is what the server remembers so that each transaction is fetched
// once: what the pool refused, what has been asked for, and what arrived
// ahead of the transaction it follows; and the announced blocks asked for,
// which are fetched once too.
type txState struct {
	mu        sync.Mutex
	rejected  *hashRing[chain.Hash, chain.Hash] // txid → the tip it was refused at
	requested *hashRing[uint64, int64]          // txid's shortID → when a getdata asked for it, Unix ns
	blocks    *hashRing[chain.Hash, int64]      // announced block → when a getdata asked for it, Unix ns
	// orphans were refused for a nonce gap. Transactions reach a node
	// over several peers, so a sender's next nonce can overtake the one
	// before it; it is admitted when that one is.
	orphans map[orphanKey]*chain.Tx
	evict   *mrand.Rand // picks the orphan that makes room
}

func newTxState(seed uint64) txState {
	return txState{
		rejected:  newHashRing[chain.Hash, chain.Hash](maxRejected),
		requested: newHashRing[uint64, int64](maxRequested),
		blocks:    newHashRing[chain.Hash, int64](maxRequestedBlocks),
		orphans:   make(map[orphanKey]*chain.Tx),
		evict:     mrand.New(mrand.NewPCG(seed, seed>>32|seed<<32)),
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
	now := s.now()
	s.txs.mu.Lock()
	defer s.txs.mu.Unlock()
	if at, ok := s.txs.rejected.get(id); ok && at == tip {
		return false
	}
	if at, ok := s.txs.requested.get(shortID(id)); ok && now.Sub(time.Unix(0, at)) < txRequestTimeout {
		return false
	}
	s.txs.requested.put(shortID(id), now.UnixNano())
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
	if err == nil {
		return
	}
	var refusal txRefusal
	if !errors.As(err, &refusal) {
		s.log.Error("add transaction from peer", "addr", p.addr, "txid", id, "err", err)
		return
	}
	switch {
	case refusal.AlreadyPending():
		return
	case refusal.NonceGap():
		s.keepOrphan(tx)
	case refusal.Invalid():
		s.misbehave(p, banThreshold, err)
	}
	s.log.Debug("transaction from peer refused", "addr", p.addr, "txid", id, "err", err)
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
		// A random one, that a flood cannot aim at others' orphans;
		// drawn from the keys in order, not a map's, so that a
		// simulated run repeats exactly.
		keys := s.txs.orphanKeys()
		delete(s.txs.orphans, keys[s.txs.evict.IntN(len(keys))])
	}
	s.txs.orphans[orphanKey{tx.Sender(), tx.Nonce}] = tx
}

// orphanKeys lists the orphans by sender, each sender's in nonce order. The
// caller holds t.mu.
func (t *txState) orphanKeys() []orphanKey {
	return slices.SortedFunc(maps.Keys(t.orphans), func(a, b orphanKey) int {
		return cmp.Or(bytes.Compare(a.from[:], b.from[:]), cmp.Compare(a.nonce, b.nonce))
	})
}

// retryOrphans offers the pool again every orphan, in each sender's nonce
// order, after a new tip: the transaction an orphan waited for may have
// come in a block instead of through the pool, and then no admission
// adopts it. What still leaves a gap waits on; what a block spent, or the
// new state refuses, is dropped.
func (s *Server) retryOrphans() {
	s.txs.mu.Lock()
	var txs []*chain.Tx
	for _, k := range s.txs.orphanKeys() {
		txs = append(txs, s.txs.orphans[k])
		delete(s.txs.orphans, k)
	}
	s.txs.mu.Unlock()
	for _, tx := range txs {
		var refusal txRefusal
		if err := s.pool.Add(tx); errors.As(err, &refusal) && refusal.NonceGap() {
			s.keepOrphan(tx)
		}
	}
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
// up to wire.MaxInvItems: what is waiting goes out together, in one inv per peer.
func waiting(txs <-chan *chain.Tx, first *chain.Tx) []*chain.Tx {
	batch := []*chain.Tx{first}
	for len(batch) < wire.MaxInvItems {
		select {
		case tx := <-txs:
			batch = append(batch, tx)
		default:
			return batch
		}
	}
	return batch
}

// announceTxs queues admitted transactions for every ready peer that has
// not seen them (trickle.go).
func (s *Server) announceTxs(txs []*chain.Tx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queueTxs(txIDs(txs))
}

// answerMempool announces our pending transactions to a peer that asked.
// The pool admits a sender's nonces only in order, and the peer asks for
// what it lacks in the order announced: the pool's block order keeps every
// sender's nonces in sequence.
func (s *Server) answerMempool(p *peer) {
	ids, err := s.pool.PendingIDs()
	if err != nil {
		s.log.Error("list pending transactions", "err", err)
		return
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

// txInvs announces txids in order, in invs of at most wire.MaxInvItems items.
func txInvs(ids []chain.Hash) []*wire.MsgInv {
	var invs []*wire.MsgInv
	for chunk := range slices.Chunk(ids, wire.MaxInvItems) {
		inv := wire.NewMsgInv(make([]wire.InvItem, len(chunk)))
		for i, id := range chunk {
			inv.Items[i] = wire.InvItem{Type: wire.InvTx, Hash: id}
		}
		invs = append(invs, inv)
	}
	return invs
}
