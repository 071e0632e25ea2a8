package p2p

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/mempool"
	"github.com/hashforge/hashforge/p2p/wire"
)

// txItems is the inventory of txs.
func txItems(txs ...*chain.Tx) []wire.InvItem {
	items := make([]wire.InvItem, len(txs))
	for i, tx := range txs {
		items[i] = wire.InvItem{Type: wire.InvTx, Hash: tx.Hash()}
	}
	return items
}

// noneOf fails the test for every message of command in msgs.
func noneOf(t *testing.T, msgs []wire.Message, command, why string) {
	t.Helper()
	for _, m := range msgs {
		if m.Command() == command {
			t.Errorf("%s: got %s %+v", why, command, m)
		}
	}
}

// A transaction crosses a line of nodes, A–B–C, from either end, and every
// link carries it once in each direction it travels: one inv, one getdata,
// one tx, and nothing back toward where it came from.
func TestTxRelayedAlongLine(t *testing.T) {
	t.Parallel()
	// Only B (to A) and C (to B) dial, so address gossip cannot close the
	// line into a triangle.
	dialing := func(to string, outbound int) Config {
		cfg := testConfig()
		cfg.MaxOutbound = outbound
		if to != "" {
			cfg.Connect = []string{to}
		}
		return cfg
	}
	a := startNode(t, newChain(t), nil, dialing("", 0))
	ab := startProxy(t, a.addr)
	b := startNode(t, newChain(t), nil, dialing(ab.addr, 1))
	bc := startProxy(t, b.addr)
	c := startNode(t, newChain(t), nil, dialing(bc.addr, 1))
	waitFor(t, 5*time.Second, "the line A–B–C", func() bool {
		return a.readyPeers() == 1 && b.readyPeers() == 2 && c.readyPeers() == 1
	})

	tx0, tx1 := transfer(0, chain.Coin, nil), transfer(1, chain.Coin, []byte("back"))
	if err := a.pool.Add(tx0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "tx0 from A in C's pool", func() bool { return c.pool.Has(tx0.Hash()) })
	if err := c.pool.Add(tx1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "tx1 from C in A's pool", func() bool { return a.pool.Has(tx1.Hash()) })
	if !b.pool.Has(tx0.Hash()) || !b.pool.Has(tx1.Hash()) {
		t.Fatalf("B, in the middle, lacks a transaction it relayed")
	}
	// Echoes would come after the pools admitted: give them time to show.
	time.Sleep(500 * time.Millisecond)

	tests := []struct {
		link  string
		count func(string) int
	}{
		{"B to A", ab.count}, {"A to B", ab.countBack},
		{"C to B", bc.count}, {"B to C", bc.countBack},
	}
	for _, tt := range tests {
		// Each link carries tx0 one way and tx1 the other: in each
		// direction one announcement, one request (of the other
		// transaction) and one transaction.
		for cmd, want := range map[string]int{"inv": 1, "getdata": 1, "tx": 1, "notfound": 0} {
			if got := tt.count(cmd); got != want {
				t.Errorf("%s: %d %s messages, want %d", tt.link, got, cmd, want)
			}
		}
	}
}

// A node that joins late learns what its peer has pending, a sender's
// transfers included: the pool admits them only in nonce order, and that
// is the order they are announced, asked for and sent in. Each is fetched
// once, also beyond one inv's worth.
func TestLateJoinerLearnsPending(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
	}{
		{"50 transfers", 50},
		{"more than one inv", wire.MaxInvItems + 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := startNode(t, newChain(t), nil, testConfig())
			txs := transfers(tt.n)
			for _, tx := range txs {
				if err := a.pool.Add(tx); err != nil {
					t.Fatal(err)
				}
			}
			px := startProxy(t, a.addr)
			cfg := testConfig()
			cfg.Connect = []string{px.addr}
			d := startNode(t, newChain(t), nil, cfg)
			waitFor(t, 30*time.Second, "every pending transfer in the new node's pool", func() bool {
				return pendingCount(d.pool) == tt.n
			})
			for _, tx := range txs {
				if !d.pool.Has(tx.Hash()) {
					t.Fatalf("transfer %d missing", tx.Nonce)
				}
			}
			if got := px.count("mempool"); got != 1 {
				t.Errorf("%d mempool requests, want 1", got)
			}
			if got, nf := px.countBack("tx"), px.countBack("notfound"); got != tt.n || nf != 0 {
				t.Errorf("%d tx and %d notfound messages for %d transfers", got, nf, tt.n)
			}
		})
	}
}

// The transaction relay rules against raw peers: what is announced to whom,
// what is asked for, and what getdata and mempool are answered with.
func TestTxRelayRules(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	x := dialReady(t, a.addr, "127.0.0.1")
	y := dialReady(t, a.addr, "127.0.0.1")
	waitFor(t, 2*time.Second, "both ready", func() bool { return a.readyPeers() == 2 })
	txs := transfers(23)

	// announced checks what A announced for a transaction x sent it: one
	// inv of it to y, none to x. Relay announces to every peer in one pass
	// under the server's lock, so once y has its inv, x's would be queued.
	announced := func(tx *chain.Tx) {
		t.Helper()
		if inv := await[*wire.MsgInv](y); !slices.Equal(inv.Items, txItems(tx)) {
			t.Errorf("y got inv %v, want %v", inv.Items, txItems(tx))
		}
		a.readyPeers()
		noneOf(t, x.roundTrip(), "inv", "announced back to the peer it came from")
	}

	t.Run("unasked tx is admitted and announced on", func(t *testing.T) {
		x.send(&wire.MsgTx{Tx: txs[0]})
		announced(txs[0])
		if !a.pool.Has(txs[0].Hash()) {
			t.Errorf("not in the pool")
		}
	})

	t.Run("inv of a pending tx", func(t *testing.T) {
		y.send(wire.NewMsgInv(txItems(txs[0])))
		noneOf(t, y.roundTrip(), "getdata", "a pending transaction asked for")
	})

	t.Run("inv of a new tx asked of one peer", func(t *testing.T) {
		x.send(wire.NewMsgInv(txItems(txs[1])))
		if gd := await[*wire.MsgGetData](x); !slices.Equal(gd.Items, txItems(txs[1])) {
			t.Errorf("getdata %v, want %v", gd.Items, txItems(txs[1]))
		}
		y.send(wire.NewMsgInv(txItems(txs[1])))
		noneOf(t, y.roundTrip(), "getdata", "a transaction already asked of another peer asked for")
		// Both peers have seen it: its admission announces it to neither,
		// so the next transaction is the first y hears of.
		x.send(&wire.MsgTx{Tx: txs[1]})
		x.send(&wire.MsgTx{Tx: txs[2]})
		announced(txs[2])
	})

	t.Run("getdata", func(t *testing.T) {
		unknown := transfer(99, 1, nil)
		y.send(wire.NewMsgGetData(append(txItems(txs[0], unknown), wire.InvItem{Type: wire.InvBlock, Hash: txs[1].Hash()})))
		if got := await[*wire.MsgTx](y).Tx; got.Hash() != txs[0].Hash() {
			t.Errorf("getdata answered with tx %s, want %s", got.Hash(), txs[0].Hash())
		}
		nf := await[*wire.MsgNotFound](y)
		if want := append(txItems(unknown), wire.InvItem{Type: wire.InvBlock, Hash: txs[1].Hash()}); !slices.Equal(nf.Items, want) {
			t.Errorf("notfound %v, want %v", nf.Items, want)
		}
	})

	t.Run("mempool answered in nonce order, once per transaction", func(t *testing.T) {
		for _, tx := range txs[3:] {
			if err := a.pool.Add(tx); err != nil {
				t.Fatal(err)
			}
		}
		// Relayed to y, so relay is done before z joins.
		for seen := 3; seen < len(txs); {
			seen += len(await[*wire.MsgInv](y).Items)
		}
		z := dialReady(t, a.addr, "127.0.0.1")
		z.send(&wire.MsgMempool{})
		if inv := await[*wire.MsgInv](z); !slices.Equal(inv.Items, txItems(txs...)) {
			t.Errorf("mempool answered with %v\nwant, in nonce order, %v", inv.Items, txItems(txs...))
		}
		z.send(&wire.MsgMempool{})
		noneOf(t, z.roundTrip(), "inv", "transactions announced twice")
	})
}

// A transaction the pool refuses for its own state or policy is no fault
// of the peer, which may simply know more or less than we do: the peer
// stays, and the refused transaction is not asked for again at this tip.
func TestHarmlessTxsKeepPeer(t *testing.T) {
	t.Parallel()
	a := startNode(t, newChain(t), nil, testConfig())
	// The faucet's nonce 0 is confirmed, nonce 1 pending.
	mineBlock(t, a.ch, chain.Address{}, transfer(0, chain.Coin, nil))
	pending := transfer(1, chain.Coin, nil)
	if err := a.pool.Add(pending); err != nil {
		t.Fatal(err)
	}
	cheap := transfer(2, 1, nil)
	cheap.Fee = 1
	cheap.Sign(chain.FaucetKey(), chain.Regtest.Magic)
	r := dialReady(t, a.addr, hostileHost)

	tests := []struct {
		name string
		tx   *chain.Tx
	}{
		{"duplicate", pending},
		{"stale nonce", transfer(0, 2*chain.Coin, nil)},
		{"nonce gap", transfer(5, 1, nil)},
		{"fee too low", cheap},
		{"replacement paying too little", transfer(1, 2*chain.Coin, nil)},
		{"insufficient funds", transfer(2, chain.FaucetAlloc, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.send(&wire.MsgTx{Tx: tt.tx})
			r.send(wire.NewMsgInv(txItems(tt.tx)))
			noneOf(t, r.roundTrip(), "getdata", "a refused transaction asked for again")
			if a.banned(hostileHost) {
				t.Fatalf("banned")
			}
		})
	}
	if got := pendingCount(a.pool); got != 1 {
		t.Errorf("%d transactions pending, want 1", got)
	}
}

// Transactions reach a node over several peers, so a sender's next nonce
// may come before the one it follows: it waits, and is admitted after it.
func TestOutOfOrderTxsAdopted(t *testing.T) {
	t.Parallel()
	// The raw peer is silent while the four signatures are checked.
	a := startNode(t, newChain(t), nil, patientConfig())
	r := dialReady(t, a.addr, "127.0.0.1")
	txs := transfers(4)
	for _, i := range []int{3, 1, 2, 0} {
		r.send(&wire.MsgTx{Tx: txs[i]})
	}
	waitFor(t, 5*time.Second, "all four pending", func() bool { return pendingCount(a.pool) == 4 })
}

// pendingCount counts a pool's transactions.
func pendingCount(pool *mempool.Pool) int {
	_, st, _ := pool.Entries()
	return st.Count
}

// stubPool answers every Add with err and holds nothing.
type stubPool struct{ err error }

func (p stubPool) Add(*chain.Tx) error                 { return p.err }
func (stubPool) Has(chain.Hash) bool                   { return false }
func (stubPool) Get(chain.Hash) (*chain.Tx, bool)      { return nil, false }
func (stubPool) PendingIDs() ([]chain.Hash, error)     { return nil, nil }
func (stubPool) Subscribe() (<-chan *chain.Tx, func()) { return nil, func() {} }

// The pool's refusals reach the peer layer only as txRefusal: were a method
// renamed on one side, every refusal would read as the pool's own failure.
var _ txRefusal = (*mempool.RejectError)(nil)

// What each of the pool's refusals does to the peer that sent the
// transaction: which ban it, which keep the transaction until its sender's
// previous nonce arrives, and which are remembered, so the transaction is
// not fetched again at this tip.
func TestTxRefusalConsequences(t *testing.T) {
	t.Parallel()
	ch := newChain(t)
	refused := func(code mempool.ErrorCode) error { return &mempool.RejectError{Code: code, Msg: "refused"} }
	tests := []struct {
		name                    string
		err                     error
		ban, orphan, remembered bool
	}{
		{"admitted", nil, false, false, false},
		{"the pool's own failure", errors.New("store failed"), false, false, false},
		{"already pending", refused(mempool.ErrKnown), false, false, false},
		{"nonce gap", refused(mempool.ErrNonceGap), false, true, true},
		{"nonce too low", refused(mempool.ErrNonceTooLow), false, false, true},
		{"fee too low", refused(mempool.ErrFeeTooLow), false, false, true},
		{"insufficient funds", refused(mempool.ErrInsufficientFunds), false, false, true},
		{"replacement fee too low", refused(mempool.ErrReplacementFee), false, false, true},
		{"pool full", refused(mempool.ErrFull), false, false, true},
		{"coinbase", refused(mempool.ErrCoinbase), true, false, true},
		{"bad signature", refused(mempool.ErrorCode(chain.ErrBadSignature)), true, false, true},
		{"bad amount", refused(mempool.ErrorCode(chain.ErrBadAmount)), true, false, true},
		{"memo too long", refused(mempool.ErrorCode(chain.ErrMemoTooLong)), true, false, true},
		{"wrapped refusal", fmt.Errorf("pool: %w", refused(mempool.ErrorCode(chain.ErrBadSignature))), true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(testConfig(), ch, stubPool{tt.err}, nil, testLog())
			conn, other := net.Pipe()
			defer other.Close()
			p := newPeer(conn, conn.RemoteAddr().String(), "", time.Now())
			tx := transfer(3, 1, nil)
			s.onTx(p, tx)

			p.mu.Lock()
			ban := p.banScore >= banThreshold
			p.mu.Unlock()
			_, orphan := s.txs.orphans[orphanKey{tx.Sender(), tx.Nonce}]
			_, remembered := s.txs.rejected.get(tx.Hash())
			if ban != tt.ban || orphan != tt.orphan || remembered != tt.remembered {
				t.Errorf("banned %v, kept as orphan %v, remembered as refused %v; want %v, %v, %v",
					ban, orphan, remembered, tt.ban, tt.orphan, tt.remembered)
			}
		})
	}
}
