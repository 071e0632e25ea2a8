package p2p

import "github.com/hashforge/hashforge/chain"

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
