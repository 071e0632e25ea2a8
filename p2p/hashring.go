package p2p

import (
	"encoding/binary"

	"github.com/hashforge/hashforge/chain"
)

// hashRing is a map that forgets its oldest key once it holds max: what was
// refused or asked for only matters while the transaction is being
// relayed, and a peer must not be able to grow it. Keys are hashes, or a
// hash's shortID where a ring holds many of them.
type hashRing[K comparable, V any] struct {
	max   int
	m     map[K]V
	order []K // a ring: next is the oldest once it is full
	next  int
}

func newHashRing[K comparable, V any](max int) *hashRing[K, V] {
	return &hashRing[K, V]{max: max, m: make(map[K]V)}
}

// shortID is the first 8 bytes of a txid, as the filters of what each peer
// has seen and the ring of what was asked for keep it. Two txids sharing one
// would only make a transfer go unannounced to a peer that saw the other, or
// fetched a little later, and finding a second txid with a given one's 64
// bits takes 2^64 hashes.
func shortID(h chain.Hash) uint64 { return binary.LittleEndian.Uint64(h[:8]) }

// put records v for h, reporting whether h was new.
func (r *hashRing[K, V]) put(h K, v V) bool {
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

func (r *hashRing[K, V]) get(h K) (V, bool) {
	v, ok := r.m[h]
	return v, ok
}
