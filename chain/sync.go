package chain

import "fmt"

// MaxHeaders is the most headers one answer to a locator carries.
const MaxHeaders = 2000

// Have reports whether the block is stored, on any branch.
func (c *Chain) Have(h Hash) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.index[h]
	return ok
}

// Block returns a stored block, on any branch.
func (c *Chain) Block(h Hash) (*Block, error) {
	if !c.Have(h) {
		return nil, fmt.Errorf("block %s is unknown", h)
	}
	return c.store.Block(h)
}

// Locator describes the main chain to a peer: the tip, then hashes back to
// genesis at exponentially growing steps, so the peer finds the last block
// both share in one round trip however far apart the chains are.
func (c *Chain) Locator() []Hash {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var loc []Hash
	step := uint64(1)
	for h := c.tip().height; ; h -= step {
		loc = append(loc, c.main[h].hash)
		if len(loc) >= 10 {
			step *= 2
		}
		if h < step {
			break
		}
	}
	if g := c.main[0].hash; loc[len(loc)-1] != g {
		loc = append(loc, g)
	}
	return loc
}

// HeadersAfter answers a peer's locator: the main-chain headers after the
// first locator hash on our main chain (genesis if none is), up to max or
// the stop hash.
func (c *Chain) HeadersAfter(locator []Hash, stop Hash, max int) []Header {
	c.mu.RLock()
	defer c.mu.RUnlock()
	start := uint64(0)
	for _, h := range locator {
		if n := c.index[h]; n != nil && n.height < uint64(len(c.main)) && c.main[n.height] == n {
			start = n.height
			break
		}
	}
	var out []Header
	for h := start + 1; h < uint64(len(c.main)) && len(out) < max; h++ {
		out = append(out, c.main[h].header)
		if c.main[h].hash == stop {
			break
		}
	}
	return out
}
