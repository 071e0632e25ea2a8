package p2p

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// Announcements of transactions wait for the timer of the peer's side (we
// dialled b), go out together in one inv, and leave out what the peer
// announced to us meanwhile and what a block confirmed.
func TestTrickle(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	cfg := quietConfig()
	cfg.Clock, cfg.TxAnnounceInterval = func() time.Time { return now }, time.Second
	a, b := drivenWith(t, newChain(t), cfg), driven(t, newChain(t))
	ch, pool := a.ch, a.pool
	la, lb := link(t, a, b)
	exchange := func() []wire.Message { return exchange(ctx, a, la, b, lb) }
	invs := func(msgs []wire.Message) (items [][]chain.Hash) {
		for _, m := range msgs {
			if inv, ok := m.(*wire.MsgInv); ok && inv.Items[0].Type == wire.InvTx {
				var ids []chain.Hash
				for _, it := range inv.Items {
					ids = append(ids, it.Hash)
				}
				items = append(items, ids)
			}
		}
		return items
	}
	fire := func() []wire.Message {
		wait := a.Trickle()
		if wait <= 0 || wait > 5*time.Second {
			t.Fatalf("the outbound timer is due in %v, want (0, 5s]", wait)
		}
		now = now.Add(wait - time.Millisecond)
		if a.Trickle(); len(invs(la.Sent())) != 0 {
			t.Fatal("announced before the timer fired")
		}
		now = now.Add(time.Millisecond)
		if w := a.Trickle(); w != 0 {
			t.Errorf("after the timer fired with nothing more queued, Trickle wants a call in %v, want none", w)
		}
		return exchange()
	}

	txs := transfers(5)
	for _, tx := range txs[:3] {
		if err := pool.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	a.after(ctx)
	if got := invs(exchange()); len(got) != 0 {
		t.Fatalf("announced at once: %v", got)
	}
	if got, want := invs(fire()), [][]chain.Hash{txIDs(txs[:3])}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("announced %d invs %v, want one of the three transactions", len(got), got)
	}

	// b announces the fourth to a before a's timer fires; a block confirms
	// the fifth.
	for _, tx := range txs[3:] {
		if err := pool.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	a.after(ctx)
	la.Deliver(ctx, wire.NewMsgInv(txItems(txs[3])))
	mineBlock(t, ch, chain.Address{}, txs[:5]...)
	if _, err := pool.PendingIDs(); err != nil { // the pool catches up with the tip
		t.Fatal(err)
	}
	if got := invs(fire()); len(got) != 0 {
		t.Errorf("announced %v: the peer announced one, a block confirmed the other", got)
	}
}

// A block announced by several peers is asked of the first alone, and of
// another only once blockStall has passed without it.
func TestBlockAskedOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	cfg := quietConfig()
	cfg.Clock = func() time.Time { return now }
	a := drivenWith(t, newChain(t), cfg)
	lb, _ := link(t, a, driven(t, newChain(t)))
	lc, _ := link(t, a, driven(t, newChain(t)))
	block := chain.Hash{0x42}
	announce := func(l *Link) bool {
		l.Deliver(ctx, wire.NewMsgInv([]wire.InvItem{{Type: wire.InvBlock, Hash: block}}))
		for _, m := range l.Sent() {
			if gd, ok := m.(*wire.MsgGetData); ok && gd.Items[0].Hash == block {
				return true
			}
		}
		return false
	}
	for _, step := range []struct {
		l     *Link
		after time.Duration
		asks  bool
	}{
		{lb, 0, true},
		{lc, 0, false},
		{lb, blockStall - time.Millisecond, false},
		{lc, blockStall, true},
	} {
		now = now.Add(step.after)
		if got := announce(step.l); got != step.asks {
			t.Fatalf("after %v: asked %v, want %v", step.after, got, step.asks)
		}
	}
}

// An orphan whose predecessor comes in a block, not through the pool, is
// admitted with the block's tip.
func TestOrphanAdoptedOnTip(t *testing.T) {
	ctx := context.Background()
	a, b := driven(t, newChain(t)), driven(t, newChain(t))
	la, _ := link(t, a, b)
	txs := transfers(2)
	la.Deliver(ctx, &wire.MsgTx{Tx: txs[1]}) // a nonce gap: kept as an orphan
	a.after(ctx)
	if a.pool.Has(txs[1].Hash()) {
		t.Fatal("admitted with a nonce gap")
	}
	mineBlock(t, a.ch, chain.Address{}, txs[0])
	a.after(ctx)
	if !a.pool.Has(txs[1].Hash()) {
		t.Error("the orphan was not admitted once a block held the transaction before it")
	}
}
