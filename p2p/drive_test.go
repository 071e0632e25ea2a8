package p2p

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/mempool"
	"github.com/hashforge/hashforge/p2p/wire"
)

// A node five blocks ahead and a new node that joins it sync once over TCP,
// through a proxy that records the commands each way, and once driven by
// the calls a simulator makes (Attach, Deliver, Sent, NewTip, Download):
// each way carries the same commands in the same order. The two drivers
// share every decision; only the carrying differs.
func TestDriversAgree(t *testing.T) {
	ahead := newChain(t)
	mine(t, ahead, 5)

	// Over TCP, with no timers that send.
	a := startNode(t, copyChain(t, ahead), nil, quietConfig())
	px := startProxy(t, a.addr)
	cfg := quietConfig()
	cfg.Connect = []string{px.addr}
	b := startNode(t, newChain(t), nil, cfg)
	waitTip(t, 10*time.Second, b, a)
	tcpToA, tcpToB := settled(t, px)

	// Driven, one call at a time.
	ctx := context.Background()
	da, db := driven(t, copyChain(t, ahead)), driven(t, newChain(t))
	la := da.Attach("192.0.2.2:18999", false) // b dialled a
	lb := db.Attach("192.0.2.1:18999", true)
	var toA, toB []string
	for moved := true; moved; {
		moved = false
		for _, leg := range []struct {
			from     *drivenNode
			out, in  *Link
			to       *drivenNode
			commands *[]string
		}{{db, lb, la, da, &toA}, {da, la, lb, db, &toB}} {
			for _, m := range leg.out.Sent() {
				moved = true
				*leg.commands = append(*leg.commands, m.Command())
				if !leg.in.Deliver(ctx, m) {
					t.Fatalf("%s dropped", m.Command())
				}
				leg.to.after(ctx)
			}
		}
	}
	if db.ch.Tip().Hash != ahead.Tip().Hash {
		t.Fatalf("driven: the new node's tip is %d, want %d", db.ch.Tip().Height, ahead.Tip().Height)
	}
	if !slices.Equal(toA, tcpToA) || !slices.Equal(toB, tcpToB) {
		t.Errorf("commands differ\nto the node ahead, TCP:    %q\n                  driven: %q\nto the new node, TCP:    %q\n                 driven: %q",
			tcpToA, toA, tcpToB, toB)
	}
	t.Logf("to the node ahead: %q; to the new node: %q", toA, toB)
}

// settled waits until the proxy has carried nothing for a while and
// returns what it carried each way.
func settled(t *testing.T, px *proxy) (sent, back []string) {
	t.Helper()
	last := -1
	for range 50 {
		s, b := px.orders()
		if len(s)+len(b) == last {
			return s, b
		}
		last = len(s) + len(b)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the proxy never went quiet")
	return nil, nil
}

// drivenNode is a Server with no socket, its tips and admissions told to
// it as a simulator tells them.
type drivenNode struct {
	*Server
	ch   *chain.Chain
	pool *mempool.Pool
	tips <-chan chain.Tip
	txs  <-chan *chain.Tx
}

func driven(t *testing.T, ch *chain.Chain) *drivenNode { return drivenWith(t, ch, quietConfig()) }

// drivenWith is driven with cfg (its Listen ignored).
func drivenWith(t *testing.T, ch *chain.Chain, cfg Config) *drivenNode {
	cfg.Listen = ""
	pool := mempool.New(ch, mempool.DefaultConfig(), testLog())
	s := New(cfg, ch, pool, nil, testLog())
	s.SetListenPort(18999)
	n := &drivenNode{Server: s, ch: ch, pool: pool}
	var cancelTips, cancelTxs func()
	n.tips, cancelTips = ch.Subscribe()
	n.txs, cancelTxs = pool.Subscribe()
	t.Cleanup(func() { cancelTips(); cancelTxs() })
	return n
}

// after does what the TCP driver's goroutines do after a message: connect
// downloaded blocks and ask for more, announce a new tip and admissions.
func (n *drivenNode) after(ctx context.Context) {
	n.Download(ctx)
	for {
		select {
		case tip := <-n.tips:
			n.NewTip(tip)
			continue
		default:
		}
		select {
		case tx := <-n.txs:
			n.Admitted([]*chain.Tx{tx})
			continue
		default:
		}
		return
	}
}

// link attaches x and y to each other, x dialling y, and exchanges their
// handshakes.
func link(t *testing.T, x, y *drivenNode) (lx, ly *Link) {
	t.Helper()
	addr := func(n *drivenNode) string { return fmt.Sprintf("192.0.2.%d:18999", n.nodeID%250+1) }
	lx, ly = x.Attach(addr(y), true), y.Attach(addr(x), false)
	exchange(context.Background(), x, lx, y, ly)
	if !lx.Ready() || !ly.Ready() {
		t.Fatal("no handshake")
	}
	return lx, ly
}

// exchange carries messages both ways between x (its link to y is lx) and
// y (ly) until neither sends more, and returns those x sent.
func exchange(ctx context.Context, x *drivenNode, lx *Link, y *drivenNode, ly *Link) (fromX []wire.Message) {
	for moved := true; moved; {
		moved = false
		for _, m := range ly.Sent() {
			moved = true
			lx.Deliver(ctx, m)
			x.after(ctx)
		}
		for _, m := range lx.Sent() {
			moved = true
			fromX = append(fromX, m)
			ly.Deliver(ctx, m)
			y.after(ctx)
		}
	}
	return fromX
}
