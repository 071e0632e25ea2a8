package p2p

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashforge/hashforge/p2p/wire"
)

// Message rate limits: each peer has a token bucket per command that costs
// us work to handle. A message over its budget is dropped and scores
// floodScore, so a flood of any speed ends the connection within its
// budget's burst and a few messages more.

// floodScore is the misbehaviour of one message over budget: ten of them
// reach banThreshold. A node of ours never goes over a budget; a peer with a
// clock hiccup that does, once, loses nothing.
const floodScore = banThreshold / 10

// errFlood marks the misbehaviour of a peer that went over a budget.
var errFlood = errors.New("message flood")

// budget is how fast a peer may send one command: burst messages at once,
// then perSec. slot is the command's place in a peer's buckets.
type budget struct {
	perSec, burst float64
	slot          int
}

// relayed reports whether m is gossip as an honest peer relays it on
// others' behalf: an address announcement (maxAddrRelay addresses at most).
// How many of those come follows the network (a thousand nodes starting at
// once), not the peer's intent, so over budget they are dropped without a
// score; the peer costs us no more than its budget still. Long unasked
// address lists over budget score as any flood does.
func relayed(m wire.Message) bool {
	a, ok := m.(*wire.MsgAddr)
	return ok && len(a.Addrs) <= maxAddrRelay
}

// budgets are ten times or more what our nodes send with the shortest
// timers the tests use (a ping every 200 ms, a consensus round every
// 500 ms); a sync's requests, twice what a sync at 30,000 blocks/s sends
// (TestSyncWithinBudget). Answers (pong, addr, headers, tx, notfound) get small budgets of
// their own, since our nodes send them only when asked, and each request
// we send grants one more answer (expect): a peer answering us never floods.
// Blocks are not limited: each needs proof of work, and an invalid one
// discourages its sender at once.
var budgets = map[string]budget{
	"ping":       {perSec: 10, burst: 20},
	"pong":       {perSec: 1, burst: 10},
	"getaddr":    {perSec: 1, burst: 10},
	"addr":       {perSec: 1, burst: 100}, // an announcement per node joining the network; each costs up to 1000 addresses learnt
	"inv":        {perSec: 100, burst: 1000},
	"getdata":    {perSec: 500, burst: 2000}, // a sync at 30,000 blocks/s sends 30,000/chunkBlocks, about 234 a second
	"notfound":   {perSec: 1, burst: 10},
	"getheaders": {perSec: 50, burst: 100}, // a sync asks for the next chain.MaxHeaders at once, 15 a second at 30,000 blocks/s; an orphan block asks too
	"headers":    {perSec: 1, burst: 10},
	"tx":         {perSec: 10, burst: 100},
	"mempool":    {perSec: 1, burst: 10},
}

// Every message a peer sends is counted: its bucket is found by a slot in
// an array rather than a map of its own per peer.
func init() {
	for i, cmd := range slices.Sorted(maps.Keys(budgets)) {
		b := budgets[cmd]
		b.slot = i
		budgets[cmd] = b
	}
}

// maxGrant bounds the answers a peer may have in hand beyond its budget,
// so one that is asked much and answers nothing cannot save up a flood.
const maxGrant = 2 * wire.MaxInvItems

// bucket holds the messages of one command a peer may still send.
type bucket struct {
	tokens float64
	last   time.Time // zero: not used yet
}

// limiter is one peer's buckets. The reader takes from them, the writer
// grants answers to what it sends.
type limiter struct {
	mu      sync.Mutex
	buckets []bucket // by budget.slot
}

// bucket returns b's bucket refilled up to now; l.mu is held.
func (l *limiter) bucket(b budget, now time.Time) *bucket {
	if l.buckets == nil {
		l.buckets = make([]bucket, len(budgets))
	}
	k := &l.buckets[b.slot]
	if k.last.IsZero() {
		*k = bucket{tokens: b.burst, last: now}
	}
	// Granted answers may hold it over the burst; time only refills up to it.
	if k.tokens < b.burst {
		k.tokens = min(b.burst, k.tokens+now.Sub(k.last).Seconds()*b.perSec)
	}
	k.last = now
	return k
}

// allow takes a message of cmd from its bucket; false: over budget.
// Commands without a budget are always allowed.
func (l *limiter) allow(cmd string, now time.Time) bool {
	b, ok := budgets[cmd]
	if !ok {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.bucket(b, now)
	if k.tokens < 1 {
		return false
	}
	k.tokens--
	return true
}

// grant adds n messages of cmd to its bucket, up to maxGrant over its burst.
func (l *limiter) grant(cmd string, n int, now time.Time) {
	b := budgets[cmd]
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.bucket(b, now)
	k.tokens = min(k.tokens+float64(n), max(k.tokens, b.burst+maxGrant))
}

// expect grants the answers that m, about to be sent, asks for. It runs
// before m goes out: the answer may be read before a write returns.
func (l *limiter) expect(m wire.Message, now time.Time) {
	switch m := m.(type) {
	case *wire.MsgPing:
		l.grant("pong", 1, now)
	case *wire.MsgGetAddr:
		l.grant("addr", 1, now)
	case *wire.MsgGetHeaders:
		l.grant("headers", 1, now)
	case *wire.MsgGetData:
		l.grant("notfound", 1, now)
		txs := 0
		for _, it := range m.Items {
			if it.Type == wire.InvTx {
				txs++
			}
		}
		l.grant("tx", txs, now)
	}
}
