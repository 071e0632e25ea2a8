package mempool

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
)

// harness is a pool on a regtest chain on a real store.
type harness struct {
	t     testing.TB
	chain *chain.Chain
	pool  *Pool
	last  *chain.Block // the main chain's tip block, as the tests built it
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	c, _ := chaintest.NewChain(t)
	return &harness{t: t, chain: c, pool: New(c, cfg, slog.New(slog.DiscardHandler)), last: chain.Regtest.Genesis}
}

// mine connects a block with txs on parent and returns it.
func (h *harness) mineOn(parent *chain.Block, txs ...*chain.Tx) *chain.Block {
	h.t.Helper()
	_, miner := chaintest.NewKey("miner")
	b := chaintest.Mine(h.t, parent, miner, txs...)
	if err := h.chain.ProcessBlock(context.Background(), b); err != nil {
		h.t.Fatalf("block at height %d: %v", chaintest.Height(b), err)
	}
	if h.chain.Tip().Hash == b.Hash() {
		h.last = b
	}
	return b
}

// mine extends the main chain with a block holding txs.
func (h *harness) mine(txs ...*chain.Tx) *chain.Block {
	h.t.Helper()
	return h.mineOn(h.last, txs...)
}

// mineTemplate mines what the pool offers for the next block.
func (h *harness) mineTemplate() *chain.Block {
	h.t.Helper()
	txs, _, err := h.pool.Template(h.last.Hash(), chain.MaxBlockSize/2)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.mine(txs...)
}

func (h *harness) add(tx *chain.Tx) {
	h.t.Helper()
	if err := h.pool.Add(tx); err != nil {
		h.t.Fatalf("Add(nonce %d): %v", tx.Nonce, err)
	}
}

// wantPending fails unless the pool holds exactly txs, in block order, as
// Entries and PendingIDs list them.
func (h *harness) wantPending(txs ...*chain.Tx) {
	h.t.Helper()
	entries, st, err := h.pool.Entries()
	if err != nil {
		h.t.Fatal(err)
	}
	ids, err := h.pool.PendingIDs()
	if err != nil {
		h.t.Fatal(err)
	}
	got := make([]string, len(entries))
	for i, e := range entries {
		got[i] = fmt.Sprintf("%s nonce %d fee %d", e.Tx.Sender(), e.Tx.Nonce, e.Tx.Fee)
		if i >= len(ids) || ids[i] != e.Tx.Hash() {
			h.t.Errorf("PendingIDs %v disagrees with Entries at %d", ids, i)
		}
	}
	if len(ids) != len(entries) {
		h.t.Errorf("PendingIDs lists %d txids, Entries %d transactions", len(ids), len(entries))
	}
	want := make([]string, len(txs))
	for i, tx := range txs {
		want[i] = fmt.Sprintf("%s nonce %d fee %d", tx.Sender(), tx.Nonce, tx.Fee)
	}
	if !slices.Equal(got, want) {
		h.t.Errorf("pending:\n  %v\nwant\n  %v", got, want)
	}
	var bytes int
	var fees uint64
	for _, e := range entries {
		bytes, fees = bytes+e.Size, fees+e.Tx.Fee
	}
	if want := (Stats{Count: len(txs), Bytes: bytes, Fees: fees}); st != want || h.pool.Stats() != want {
		h.t.Errorf("Entries' stats %+v, Stats() %+v; want %+v", st, h.pool.Stats(), want)
	}
}

var (
	faucetKey = chain.FaucetKey()
	alice, _  = chaintest.NewKey("alice")
	bob, _    = chaintest.NewKey("bob")
	_, carol  = chaintest.NewKey("carol")
)

func addr(k ed25519.PrivateKey) chain.Address { return chain.AddressOf(k.Public().(ed25519.PublicKey)) }

// pay is a transfer from key with a fee of rate units per byte.
func pay(key ed25519.PrivateKey, to chain.Address, amount, rate, nonce uint64) *chain.Tx {
	tx := &chain.Tx{Kind: chain.TxTransfer, To: to, Amount: amount, Nonce: nonce}
	tx.Fee = rate * uint64(tx.Size())
	tx.Sign(key, chain.Regtest.Magic)
	return tx
}

// fund mines a block paying each key 100 coins from the faucet.
func (h *harness) fund(keys ...ed25519.PrivateKey) {
	h.t.Helper()
	acc, err := h.chain.Account(chain.FaucetAddress())
	if err != nil {
		h.t.Fatal(err)
	}
	var txs []*chain.Tx
	for i, k := range keys {
		txs = append(txs, pay(faucetKey, addr(k), 100*chain.Coin, 1, acc.Nonce+uint64(i)))
	}
	h.mine(txs...)
}

func TestAddRefusals(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.fund(alice)
	h.add(pay(alice, carol, chain.Coin, 1, 0))

	signed := func(tx *chain.Tx, magic [4]byte) *chain.Tx {
		tx.Fee = uint64(tx.Size())
		tx.Sign(alice, magic)
		return tx
	}
	tampered := pay(alice, carol, chain.Coin, 1, 1)
	tampered.Amount++
	tests := []struct {
		name string
		tx   *chain.Tx
		want ErrorCode
	}{
		{"coinbase", chain.NewCoinbase(1, carol, chain.Coin, 0), ErrCoinbase},
		{"duplicate", pay(alice, carol, chain.Coin, 1, 0), ErrKnown},
		{"fee too low", func() *chain.Tx {
			tx := pay(alice, carol, 1, 1, 1)
			tx.Fee--
			tx.Sign(alice, chain.Regtest.Magic)
			return tx
		}(), ErrFeeTooLow},
		{"bad signature", tampered, ErrorCode(chain.ErrBadSignature)},
		{"signed for devnet", signed(&chain.Tx{Kind: chain.TxTransfer, To: carol, Amount: 1, Nonce: 1}, chain.Devnet.Magic), ErrorCode(chain.ErrBadSignature)},
		{"amount overflow", signed(&chain.Tx{Kind: chain.TxTransfer, To: carol, Amount: chain.MaxMoney, Nonce: 1}, chain.Regtest.Magic), ErrorCode(chain.ErrBadAmount)},
		{"memo too long", signed(&chain.Tx{Kind: chain.TxTransfer, To: carol, Memo: make([]byte, chain.MaxMemo+1), Nonce: 1}, chain.Regtest.Magic), ErrorCode(chain.ErrMemoTooLong)},
		{"insufficient funds", pay(alice, carol, 99*chain.Coin, 1, 1), ErrInsufficientFunds},
		{"nonce gap", pay(alice, carol, 1, 1, 2), ErrNonceGap},
		{"replacement pays too little", pay(alice, carol, 2, 1, 0), ErrReplacementFee},
		{"no funds at all", pay(bob, carol, 1, 1, 0), ErrInsufficientFunds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.pool.Add(tt.tx)
			if got := Code(err); got != tt.want {
				t.Errorf("code %q (%v), want %q", got, err, tt.want)
			}
		})
	}
	h.wantPending(pay(alice, carol, chain.Coin, 1, 0))

	h.mineTemplate()
	h.wantPending()
	if err := h.pool.Add(pay(alice, carol, 1, 1, 0)); Code(err) != ErrNonceTooLow {
		t.Errorf("a confirmed nonce again: %v, want %s", err, ErrNonceTooLow)
	}
}

// TestSequenceAndReplacement: a sender's nonces queue in order, spending is
// checked against the balance less what is already pending, and a nonce is
// replaced only by a transaction paying more.
func TestSequenceAndReplacement(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.fund(alice)
	txs := []*chain.Tx{pay(alice, carol, 40*chain.Coin, 1, 0), pay(alice, carol, 40*chain.Coin, 1, 1)}
	for _, tx := range txs {
		h.add(tx)
	}
	// 80 of 100 coins pending: 20 more (plus a fee) is too much.
	if err := h.pool.Add(pay(alice, carol, 20*chain.Coin, 1, 2)); Code(err) != ErrInsufficientFunds {
		t.Errorf("overspend: %v", err)
	}
	better := pay(alice, carol, 40*chain.Coin, 3, 1)
	h.add(better)
	h.wantPending(txs[0], better)
	if acc, pending, err := h.pool.Account(addr(alice)); err != nil || acc.Balance != 100*chain.Coin || pending != 2 {
		t.Errorf("Account(alice) = %+v, %d pending, %v", acc, pending, err)
	}
	h.mineTemplate()
	h.wantPending()
	acc, err := h.chain.Account(carol)
	if err != nil || acc.Balance != 80*chain.Coin {
		t.Errorf("carol has %d units (%v), want 80 coins", acc.Balance, err)
	}
}

// TestTemplateOrder: the template takes the best fee rate first, keeps each
// sender's nonces in order, stops a sender whose next transaction does not
// fit, and builds a block the chain accepts.
func TestTemplateOrder(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.fund(alice, bob)
	a0, a1 := pay(alice, carol, 1, 2, 0), pay(alice, carol, 1, 9, 1)
	b0, b1 := pay(bob, carol, 1, 5, 0), pay(bob, carol, 1, 1, 1)
	for _, tx := range []*chain.Tx{a0, a1, b0, b1} {
		h.add(tx)
	}
	// a1 pays best but waits for a0, which pays less than b0.
	h.wantPending(b0, a0, a1, b1)

	txs, fees, err := h.pool.Template(h.last.Hash(), b0.Size()+a0.Size())
	if err != nil || !slices.Equal(txs, []*chain.Tx{b0, a0}) || fees != b0.Fee+a0.Fee {
		t.Errorf("template of two transactions' room: %d txs, fees %d, %v", len(txs), fees, err)
	}
	h.mineTemplate()
	if _, _, err := h.pool.Template(chain.Regtest.GenesisHash(), chain.MaxBlockSize); !errors.Is(err, ErrStaleParent) {
		t.Errorf("template on an old parent: %v, want ErrStaleParent", err)
	}
	h.wantPending()
}

// TestReorgReturnsTransactions: a transaction confirmed on a branch that
// loses comes back to the pool, and confirms on the winning branch.
func TestReorgReturnsTransactions(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.fund(alice)
	fork := h.last
	tx := pay(alice, carol, chain.Coin, 1, 0)
	h.add(tx)
	h.mineTemplate()
	h.wantPending()

	// A longer branch from the fork without the transaction.
	published, cancel := h.pool.Subscribe()
	defer cancel()
	b := h.mineOn(fork)
	b = h.mineOn(b)
	if h.chain.Tip().Hash != b.Hash() {
		t.Fatal("the longer branch did not win")
	}
	h.wantPending(tx)
	select {
	case got := <-published:
		if got.Hash() != tx.Hash() {
			t.Errorf("published %s, want the returned %s", got.Hash(), tx.Hash())
		}
	default:
		t.Error("the returned transaction was not published for relay")
	}
	if _, _, ok, _ := h.chain.Transaction(tx.Hash()); ok {
		t.Error("the transaction is still confirmed after the reorganisation")
	}

	h.mineTemplate()
	h.wantPending()
	if _, loc, ok, err := h.chain.Transaction(tx.Hash()); !ok || err != nil || loc.Height != h.chain.Tip().Height {
		t.Errorf("transaction at %+v (found %t, %v), want it in the new tip", loc, ok, err)
	}
}

// TestEviction: a full pool makes room by dropping the lowest fee rate with
// the transactions after it, and refuses what pays no more than that.
func TestEviction(t *testing.T) {
	cfg := DefaultConfig()
	size := pay(alice, carol, 1, 1, 0).Size()
	cfg.MaxBytes = 3 * size
	h := newHarness(t, cfg)
	h.fund(alice, bob)
	a0, a1, b0 := pay(alice, carol, 1, 2, 0), pay(alice, carol, 1, 9, 1), pay(bob, carol, 1, 5, 0)
	for _, tx := range []*chain.Tx{a0, a1, b0} {
		h.add(tx)
	}
	if err := h.pool.Add(pay(bob, carol, 1, 2, 1)); Code(err) != ErrFull {
		t.Errorf("a fourth at the lowest rate: %v, want %s", err, ErrFull)
	}
	h.wantPending(b0, a0, a1)
	// Paying more than a0 evicts a0, and a1 with it.
	b1 := pay(bob, carol, 1, 3, 1)
	h.add(b1)
	h.wantPending(b0, b1)
}

func TestExpiry(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	h.fund(alice, bob)
	now := time.Now()
	h.pool.now = func() time.Time { return now }
	a0, a1 := pay(alice, carol, 1, 1, 0), pay(alice, carol, 1, 1, 1)
	h.add(a0)
	now = now.Add(cfg.Expiry / 2)
	b0 := pay(bob, carol, 1, 1, 0)
	h.add(b0)
	h.add(a1)
	now = now.Add(cfg.Expiry/2 + time.Second)
	h.pool.expire()
	// a0 expired, and a1 cannot stay without it.
	h.wantPending(b0)
}

// TestRunFollowsTip: a confirmed transaction leaves the pool when a block
// arrives, without anyone asking the pool.
func TestRunFollowsTip(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.fund(alice)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.pool.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	tx := pay(alice, carol, 1, 1, 0)
	h.add(tx)
	h.mine(tx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.pool.mu.Lock()
		n := len(h.pool.byID)
		h.pool.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the confirmed transaction is still pending")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSubscribe(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.fund(alice)
	txs, cancel := h.pool.Subscribe()
	defer cancel()
	tx := pay(alice, carol, 1, 1, 0)
	h.add(tx)
	if err := h.pool.Add(tx); Code(err) != ErrKnown {
		t.Fatalf("second Add: %v", err)
	}
	select {
	case got := <-txs:
		if got.Hash() != tx.Hash() {
			t.Errorf("published %s, want %s", got.Hash(), tx.Hash())
		}
	default:
		t.Fatal("the admitted transaction was not published")
	}
	select {
	case got := <-txs:
		t.Errorf("a refused transaction was published: %s", got.Hash())
	default:
	}
}
