package p2p

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// The requests a peer answers: headers after a locator, blocks and
// notfound for getdata, getdata for unknown inventory only, addresses, pong.
func TestRequestsAnswered(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	mine(t, a.ch, 5)
	main := a.ch.HeadersAfter(nil, chain.Hash{}, 100)
	if len(main) != 5 {
		t.Fatalf("%d headers after genesis, want 5", len(main))
	}
	r := dialReady(t, a.addr, "127.0.0.1")
	genesis := chain.Regtest.GenesisHash()
	unknown := chain.Hash{0xde, 0xad}

	t.Run("getheaders", func(t *testing.T) {
		tests := []struct {
			name    string
			locator []chain.Hash
			stop    chain.Hash
			want    []chain.Header
		}{
			{"from genesis", []chain.Hash{genesis}, chain.Hash{}, main},
			{"unknown locator reads as genesis", []chain.Hash{unknown}, chain.Hash{}, main},
			{"first known hash wins", []chain.Hash{unknown, main[2].Hash(), main[0].Hash()}, chain.Hash{}, main[3:]},
			{"up to stop", []chain.Hash{genesis}, main[1].Hash(), main[:2]},
			{"at the tip", []chain.Hash{main[4].Hash()}, chain.Hash{}, nil},
		}
		for _, tt := range tests {
			r.send(&wire.MsgGetHeaders{Locator: tt.locator, Stop: tt.stop})
			if got := await[*wire.MsgHeaders](r).Headers; !slices.Equal(got, tt.want) {
				t.Errorf("%s: %d headers, want %d", tt.name, len(got), len(tt.want))
			}
		}
	})

	t.Run("getdata", func(t *testing.T) {
		r.send(wire.NewMsgGetData([]wire.InvItem{
			{Type: wire.InvBlock, Hash: main[1].Hash()}, {Type: wire.InvBlock, Hash: unknown}, {Type: 7, Hash: main[2].Hash()},
		}))
		if b := await[*wire.MsgBlock](r).Block; b.Hash() != main[1].Hash() {
			t.Errorf("getdata answered with block %s, want %s", b.Hash(), main[1].Hash())
		}
		nf := await[*wire.MsgNotFound](r)
		want := []wire.InvItem{{Type: wire.InvBlock, Hash: unknown}, {Type: 7, Hash: main[2].Hash()}}
		if !slices.Equal(nf.Items, want) {
			t.Errorf("notfound %v, want %v", nf.Items, want)
		}
	})

	t.Run("inv", func(t *testing.T) {
		r.send(wire.NewMsgInv([]wire.InvItem{{Type: wire.InvBlock, Hash: main[3].Hash()}, {Type: wire.InvBlock, Hash: unknown}, {Type: 7, Hash: chain.Hash{7}}}))
		gd := await[*wire.MsgGetData](r)
		if want := []wire.InvItem{{Type: wire.InvBlock, Hash: unknown}}; !slices.Equal(gd.Items, want) {
			t.Errorf("getdata %v, want only the unknown block %v", gd.Items, want)
		}
		r.send(wire.NewMsgInv([]wire.InvItem{{Type: wire.InvBlock, Hash: main[4].Hash()}}))
		for _, m := range r.roundTrip() {
			if m.Command() == "getdata" {
				t.Errorf("a known block was fetched")
			}
		}
	})

	t.Run("ping", func(t *testing.T) {
		r.send(&wire.MsgPing{Nonce: 77})
		p := await[*wire.MsgPong](r)
		if p.Nonce != 77 || p.Tip.Hash != main[4].Hash() || p.Tip.Height != 5 ||
			p.Tip.WorkInt().Cmp(a.ch.Tip().Work) != 0 {
			t.Errorf("pong %+v, want nonce 77 and our tip", p)
		}
	})

	t.Run("getaddr", func(t *testing.T) {
		a.learn("127.1.2.3:4567", false)
		r.send(&wire.MsgGetAddr{})
		var got []string
		for _, na := range await[*wire.MsgAddr](r).Addrs {
			got = append(got, netAddrString(na))
		}
		if !slices.Contains(got, "127.1.2.3:4567") {
			t.Errorf("addr %v lacks a known address", got)
		}
	})

	t.Run("new tip announced", func(t *testing.T) {
		mine(t, a.ch, 1)
		want := a.ch.Tip().Hash
		for {
			inv := await[*wire.MsgInv](r)
			if len(inv.Items) == 1 && inv.Items[0] == (wire.InvItem{Type: wire.InvBlock, Hash: want}) {
				break
			}
		}
	})
}

// Run returns promptly when its context ends, even while peers keep
// connecting: a connection accepted or dialled during shutdown must not
// start a peer that holds Run until its handshake timeout.
func TestShutdownWhileConnecting(t *testing.T) {
	t.Parallel()
	ch := newChain(t)
	cfg := testConfig()
	cfg.HandshakeTimeout = 10 * time.Second
	for i := range 50 {
		n := startNode(t, ch, nil, cfg)
		stop := make(chan struct{})
		conns := make(chan net.Conn, 10000)
		var dialers sync.WaitGroup
		for range 4 {
			dialers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					// Kept open: a peer the server starts on it waits for a version.
					if c, err := net.Dial("tcp", n.addr); err == nil {
						conns <- c
					}
				}
			})
		}
		time.Sleep(10 * time.Millisecond)
		start := time.Now()
		n.stop()
		took := time.Since(start)
		close(stop)
		dialers.Wait()
		close(conns)
		for c := range conns {
			c.Close()
		}
		if took > 2*time.Second {
			t.Fatalf("round %d: Run returned %s after its context ended", i, took.Round(time.Millisecond))
		}
	}
}
