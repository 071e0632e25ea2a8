package chain

import "sync"

// SigCache remembers transactions whose signatures verified, as bitcoind's
// signature cache does: a transfer checked when the mempool admitted it is
// not checked again in its block, and a simulator's nodes, sharing one,
// check each transfer once between them. A txid covers the signature and
// everything signed but the network's magic, so a cache serves one
// network. It holds the last max txids; it is safe for concurrent use.
type SigCache struct {
	mu   sync.Mutex
	ids  map[Hash]struct{}
	ring []Hash // insertion order, for eviction; grows up to max
	next int
	max  int
}

// NewSigCache returns a cache of at most max txids; it takes memory as it
// fills.
func NewSigCache(max int) *SigCache {
	return &SigCache{ids: make(map[Hash]struct{}), max: max}
}

// has reports whether txid's signature verified; a nil cache knows none.
func (c *SigCache) has(id Hash) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.ids[id]
	return ok
}

// add records that txid's signature verified.
func (c *SigCache) add(id Hash) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ids[id]; ok {
		return
	}
	if len(c.ring) < c.max {
		c.ring = append(c.ring, id)
	} else {
		delete(c.ids, c.ring[c.next])
		c.ring[c.next] = id
		c.next = (c.next + 1) % len(c.ring)
	}
	c.ids[id] = struct{}{}
}
