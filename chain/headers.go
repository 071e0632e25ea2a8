package chain

// HeaderChain is a branch of headers checked ahead of their blocks, as a
// headers-first sync fetches them: every header's proof of work, link to its
// parent, difficulty and timestamp hold before its block is asked for. It
// starts on a block the chain holds and is not safe for concurrent use.
type HeaderChain struct {
	c      *Chain
	nodes  []*blockNode // by height, nodes[0] at base
	base   uint64
	height map[Hash]uint64
}

// NewHeaderChain returns an empty branch of headers for c.
func (c *Chain) NewHeaderChain() *HeaderChain {
	return &HeaderChain{c: c, height: make(map[Hash]uint64)}
}

// Base is the height of the first header; End is the height past the last.
func (hc *HeaderChain) Base() uint64 { return hc.base }

// End is the height past the last header, Base when there is none.
func (hc *HeaderChain) End() uint64 { return hc.base + uint64(len(hc.nodes)) }

// Hash returns the header at height; ok is false outside [Base, End).
func (hc *HeaderChain) Hash(height uint64) (h Hash, ok bool) {
	if height < hc.base || height >= hc.End() {
		return h, false
	}
	return hc.nodes[height-hc.base].hash, true
}

// Height returns the height of a header of the branch.
func (hc *HeaderChain) Height(h Hash) (uint64, bool) {
	height, ok := hc.height[h]
	return height, ok
}

// Add checks hs, each the child of the one before, the first a child of a
// header of the branch or of a stored block, and adds them. Headers of
// stored blocks and headers the branch has are passed over; a header that
// differs from the branch's at its height replaces the branch from there,
// and one that does not build on the branch at all starts it anew. It
// reports whether any header of the branch was replaced, and the first
// rule broken: the headers before it are added.
func (hc *HeaderChain) Add(hs []Header) (replaced bool, err error) {
	if len(hs) == 0 {
		return false, nil
	}
	p := hc.c.params
	now := hc.c.now()
	hc.c.mu.RLock()
	defer hc.c.mu.RUnlock()
	parent := hc.node(hs[0].PrevBlock)
	if parent == nil {
		return false, ruleErrorf(ErrOrphan, "header %s: parent %s is unknown", hs[0].Hash(), hs[0].PrevBlock)
	}
	for i := range hs {
		h := &hs[i]
		hash := h.Hash()
		if h.PrevBlock != parent.hash {
			return replaced, ruleErrorf(ErrUnlinkedHeaders, "header %s follows %s, not its parent %s", hash, parent.hash, h.PrevBlock)
		}
		if parent.status&StatusInvalid != 0 {
			return replaced, ruleErrorf(ErrInvalidAncestor, "header %s builds on invalid block %s", hash, parent.hash)
		}
		if n := hc.c.index[hash]; n != nil {
			parent = n
			continue
		}
		height := parent.height + 1
		if got, ok := hc.Hash(height); ok && got == hash {
			parent = hc.nodes[height-hc.base]
			continue
		}
		if err := checkHeaderSanity(h, hash, p, now); err != nil {
			return replaced, err
		}
		if err := checkHeaderContext(h, parent, p); err != nil {
			return replaced, err
		}
		n := newBlockNode(*h, parent)
		replaced = hc.attach(n) || replaced
		parent = n
	}
	return replaced, nil
}

// node finds a header of the branch or a stored block; c.mu is held.
func (hc *HeaderChain) node(h Hash) *blockNode {
	if height, ok := hc.height[h]; ok {
		return hc.nodes[height-hc.base]
	}
	return hc.c.index[h]
}

// attach puts n at its height: after the branch's header that is its
// parent, dropping the headers from its height on, or as a new branch.
// It reports whether any header was dropped.
func (hc *HeaderChain) attach(n *blockNode) (replaced bool) {
	prev := n.header.PrevBlock
	builds := len(hc.nodes) > 0 && (n.height == hc.base && hc.nodes[0].header.PrevBlock == prev ||
		n.height > hc.base && n.height <= hc.End() && hc.nodes[n.height-1-hc.base].hash == prev)
	if !builds {
		replaced = len(hc.nodes) > 0
		hc.forget(hc.End())
		hc.base = n.height
	}
	i := n.height - hc.base
	for _, d := range hc.nodes[i:] {
		delete(hc.height, d.hash)
		replaced = true
	}
	clear(hc.nodes[i:])
	hc.nodes = append(hc.nodes[:i], n)
	hc.height[n.hash] = n.height
	return replaced
}

// Forget drops the headers below height, whose blocks the chain holds by
// now: the branch then starts on the stored block, and the headers passed
// over are free to go.
func (hc *HeaderChain) Forget(height uint64) {
	hc.c.mu.RLock()
	defer hc.c.mu.RUnlock()
	hc.forget(height)
}

// forget is Forget with c.mu held.
func (hc *HeaderChain) forget(height uint64) {
	k := int(min(max(height, hc.base), hc.End()) - hc.base)
	for i, n := range hc.nodes[:k] {
		delete(hc.height, n.hash)
		hc.nodes[i] = nil
	}
	hc.nodes = hc.nodes[k:]
	hc.base += uint64(k)
	if len(hc.nodes) > 0 {
		if stored := hc.c.index[hc.nodes[0].header.PrevBlock]; stored != nil {
			hc.nodes[0].parent = stored
		}
	}
}
