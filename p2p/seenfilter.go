package p2p

import "math/bits"

// seenFilter is what a peer has seen of our transactions: a rolling Bloom
// filter, as Bitcoin Core keeps per peer. It remembers at least the last
// half ids put in it, and at most twice as many, in two filters: ids go into
// the newer, a query asks both, and once the newer holds half ids the older
// is cleared and takes new ones. It costs a fixed 64 KiB a peer once full,
// where a set of 8-byte ids took about 30 bytes an id (2.5 GB at a thousand
// simulated nodes and ten thousand transfers). A query says an id it never
// took is there about once in 100,000: a transaction then goes unannounced
// to one peer, which hears of it from another.
type seenFilter struct {
	halves [2][]uint64 // bit arrays; [cur] takes new ids
	cur    int
	count  int // ids put in halves[cur]
	half   int
}

const (
	seenBits   = 1 << 18 // bits of one filter: 26 a remembered id at 10,000
	seenProbes = 12      // bits an id sets; with seenBits, 1e-5 false positives
)

func newSeenFilter(remember int) *seenFilter { return &seenFilter{half: max(remember/2, 1)} }

// probe calls fn with the bit positions of id. Ids are the first 8 bytes of
// a hash, uniform already: double hashing derives the positions.
func probe(id uint64, fn func(word int, mask uint64) bool) bool {
	h2 := bits.RotateLeft64(id, 32)*0x9e3779b97f4a7c15 | 1
	for i := range uint64(seenProbes) {
		pos := (id + i*h2) & (seenBits - 1)
		if !fn(int(pos>>6), 1<<(pos&63)) {
			return false
		}
	}
	return true
}

func (f *seenFilter) has(id uint64) bool {
	for _, h := range f.halves {
		if h != nil && probe(id, func(w int, m uint64) bool { return h[w]&m != 0 }) {
			return true
		}
	}
	return false
}

// put adds id; it reports whether id was new.
func (f *seenFilter) put(id uint64) bool {
	if f.has(id) {
		return false
	}
	if f.count == f.half {
		f.cur, f.count = 1-f.cur, 0
		clear(f.halves[f.cur])
	}
	h := f.halves[f.cur]
	if h == nil {
		h = make([]uint64, seenBits/64)
		f.halves[f.cur] = h
	}
	probe(id, func(w int, m uint64) bool { h[w] |= m; return true })
	f.count++
	return true
}
