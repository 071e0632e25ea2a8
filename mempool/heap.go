package mempool

// feeHeap orders entries lowest fee rate first, the newest first among equal
// rates: the next to evict on top. A newcomer must outbid what it evicts.
type feeHeap []*entry

func (h feeHeap) Len() int { return len(h) }
func (h feeHeap) Less(i, j int) bool {
	if h[i].pays(h[j]) || h[j].pays(h[i]) {
		return h[j].pays(h[i])
	}
	return h[i].seq > h[j].seq
}
func (h feeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].feeIdx, h[j].feeIdx = i, j
}
func (h *feeHeap) Push(x any) {
	e := x.(*entry)
	e.feeIdx = len(*h)
	*h = append(*h, e)
}
func (h *feeHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// head is a sender's next transaction not yet taken into a block template.
type head struct {
	s *sender
	i int // index into s.txs
}

// headHeap orders senders by the fee rate of their next transaction, best first.
type headHeap []head

func (h headHeap) Len() int           { return len(h) }
func (h headHeap) Less(i, j int) bool { return h[i].s.txs[h[i].i].pays(h[j].s.txs[h[j].i]) }
func (h headHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *headHeap) Push(x any)        { *h = append(*h, x.(head)) }
func (h *headHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
