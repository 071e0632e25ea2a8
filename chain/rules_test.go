package chain_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
)

// TestRuleViolations submits blocks that each break one consensus rule on
// top of a funded chain, and checks that ProcessBlock names that rule and
// that neither the tip nor any account moved. Every block starts as a valid
// block on the tip (see the control at the end) and is tampered with once.
func TestRuleViolations(t *testing.T) {
	h := newHarness(t)
	alice, aliceAddr := chaintest.NewKey("alice")
	_, bob := chaintest.NewKey("bob")
	_, miner := chaintest.NewKey("miner")

	// Two coinbases fund alice with 100 coins; the third block spends from
	// her with the longest memo allowed, so her nonce is 1 from here on.
	funded := h.extend(h.genesis(), 2, aliceAddr)
	memo := bytes.Repeat([]byte{'x'}, chain.MaxMemo)
	tip := chaintest.Mine(t, funded[1], miner, chaintest.Transfer(alice, bob, 10*chain.Coin, 1000, 0, memo))
	h.accept(tip)
	balance := 90*chain.Coin - 1000
	if got := h.account(aliceAddr); got != (chain.Account{Balance: balance, Nonce: 1}) {
		t.Fatalf("alice after setup: %+v", got)
	}

	// pay is a transfer from alice that is valid on the tip.
	pay := func(amount uint64) *chain.Tx { return chaintest.Transfer(alice, bob, amount, 0, 1, nil) }
	// tampered builds a block on the tip, applies edit, recommits the
	// transactions and solves it: a well-formed block with one thing wrong.
	tampered := func(edit func(b *chain.Block), txs ...*chain.Tx) *chain.Block {
		b := chaintest.NewBlock(tip, miner, txs...)
		edit(b)
		chaintest.Remerkle(b)
		return chaintest.Solve(t, b)
	}
	tests := []struct {
		name  string
		block func() *chain.Block
		want  chain.ErrorCode
	}{
		{"hash above target", func() *chain.Block { return chaintest.Unsolve(t, chaintest.NewBlock(tip, miner)) }, chain.ErrBadPoW},
		{"target easier than pow limit", func() *chain.Block {
			return tampered(func(b *chain.Block) { b.Header.Bits = 0x2100ffff })
		}, chain.ErrBadBits},
		// No hash meets a negative target, so this one is not solved: the
		// bits must be refused before any hash is compared with them.
		{"negative target", func() *chain.Block {
			b := chaintest.NewBlock(tip, miner)
			b.Header.Bits = 0x20800001
			return b
		}, chain.ErrBadBits},
		// Harder than required, so the proof of work holds: only the
		// contextual rule that bits equal the network's catches it.
		{"bits not the network's", func() *chain.Block {
			return tampered(func(b *chain.Block) { b.Header.Bits = 0x207ffffe })
		}, chain.ErrBadBits},
		{"merkle root flipped", func() *chain.Block {
			b := chaintest.NewBlock(tip, miner)
			b.Header.MerkleRoot[0] ^= 1
			return chaintest.Solve(t, b)
		}, chain.ErrBadMerkleRoot},
		{"transaction added after commitment", func() *chain.Block {
			b := chaintest.NewBlock(tip, miner)
			b.Txs = append(b.Txs, pay(1))
			return chaintest.Solve(t, b)
		}, chain.ErrBadMerkleRoot},
		{"time three hours ahead", func() *chain.Block {
			return tampered(func(b *chain.Block) { b.Header.Timestamp = uint32(time.Now().Add(3 * time.Hour).Unix()) })
		}, chain.ErrTimeTooNew},
		{"time at median time past", func() *chain.Block {
			return tampered(func(b *chain.Block) { b.Header.Timestamp = h.c.NextBlock().MinTime - 1 })
		}, chain.ErrTimeTooOld},
		{"no transactions", func() *chain.Block {
			return tampered(func(b *chain.Block) { b.Txs = nil })
		}, chain.ErrNoCoinbase},
		{"transfer first", func() *chain.Block {
			return tampered(func(b *chain.Block) { b.Txs = b.Txs[1:] }, pay(1))
		}, chain.ErrNoCoinbase},
		{"second coinbase", func() *chain.Block {
			return tampered(func(b *chain.Block) { b.Txs = append(b.Txs, chain.NewCoinbase(chaintest.Height(tip)+1, miner, 1, 1)) })
		}, chain.ErrMultipleCoinbase},
		{"duplicate transfer", func() *chain.Block {
			tx := pay(1)
			return tampered(func(*chain.Block) {}, tx, tx)
		}, chain.ErrDuplicateTx},
		{"memo one byte too long", func() *chain.Block {
			return tampered(func(*chain.Block) {}, chaintest.Transfer(alice, bob, 1, 0, 1, bytes.Repeat([]byte{'x'}, chain.MaxMemo+1)))
		}, chain.ErrMemoTooLong},
		{"block too big", func() *chain.Block {
			return tampered(func(*chain.Block) {}, chaintest.Transfer(alice, bob, 1, 0, 1, make([]byte, chain.MaxBlockSize)))
		}, chain.ErrBlockTooBig},
		{"amount above money supply", func() *chain.Block {
			return tampered(func(*chain.Block) {}, pay(chain.MaxMoney+1))
		}, chain.ErrBadAmount},
		{"amount changed after signing", func() *chain.Block {
			tx := pay(1)
			tx.Amount++
			return tampered(func(*chain.Block) {}, tx)
		}, chain.ErrBadSignature},
		{"signature byte flipped", func() *chain.Block {
			tx := pay(1)
			tx.Signature[10] ^= 0x40
			return tampered(func(*chain.Block) {}, tx)
		}, chain.ErrBadSignature},
		// The magic is signed, so a devnet transfer cannot be replayed here.
		{"signed for another network", func() *chain.Block {
			tx := pay(1)
			tx.Sign(alice, chain.Devnet.Magic)
			return tampered(func(*chain.Block) {}, tx)
		}, chain.ErrBadSignature},
		{"coinbase height off by one", func() *chain.Block {
			return tampered(func(b *chain.Block) { b.Txs[0].Height++ })
		}, chain.ErrBadCoinbaseHeight},
		{"coinbase pays one unit too much", func() *chain.Block {
			return tampered(func(b *chain.Block) { b.Txs[0].Amount++ })
		}, chain.ErrBadCoinbaseAmount},
		{"coinbase leaves out the fees", func() *chain.Block {
			return tampered(func(b *chain.Block) { b.Txs[0].Amount -= 7 }, chaintest.Transfer(alice, bob, 1, 7, 1, nil))
		}, chain.ErrBadCoinbaseAmount},
		{"coinbase pays too little", func() *chain.Block {
			return tampered(func(b *chain.Block) { b.Txs[0].Amount-- })
		}, chain.ErrBadCoinbaseAmount},
		{"overspend", func() *chain.Block {
			return tampered(func(*chain.Block) {}, pay(1000*chain.Coin))
		}, chain.ErrInsufficientFunds},
		{"whole balance plus a fee", func() *chain.Block {
			return tampered(func(*chain.Block) {}, chaintest.Transfer(alice, bob, balance, 1, 1, nil))
		}, chain.ErrInsufficientFunds},
		// Each alone is affordable; the second must see the first's debit.
		{"overspend across two transfers", func() *chain.Block {
			return tampered(func(*chain.Block) {}, pay(60*chain.Coin), chaintest.Transfer(alice, bob, 60*chain.Coin, 0, 2, nil))
		}, chain.ErrInsufficientFunds},
		{"sender nonce reused from an earlier block", func() *chain.Block {
			return tampered(func(*chain.Block) {}, chaintest.Transfer(alice, bob, 1, 0, 0, nil))
		}, chain.ErrBadNonce},
		{"sender nonce skipped", func() *chain.Block {
			return tampered(func(*chain.Block) {}, chaintest.Transfer(alice, bob, 1, 0, 2, nil))
		}, chain.ErrBadNonce},
		{"unknown parent", func() *chain.Block {
			return tampered(func(b *chain.Block) { b.Header.PrevBlock = chain.Hash{1, 2, 3} })
		}, chain.ErrOrphan},
		{"tip again", func() *chain.Block { return tip }, chain.ErrDuplicateBlock},
		{"earlier block again", func() *chain.Block { return funded[0] }, chain.ErrDuplicateBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.process(tt.block())
			if got := chain.Code(err); got != tt.want {
				t.Fatalf("ProcessBlock: code %q (%v), want %q", got, err, tt.want)
			}
			h.wantTip(tip)
			if got := h.account(aliceAddr); got != (chain.Account{Balance: balance, Nonce: 1}) {
				t.Errorf("alice moved to %+v", got)
			}
		})
	}

	// The control: the untampered block the cases started from is valid,
	// so each rejection above was for the tampering alone.
	next := chaintest.Mine(t, tip, miner, pay(1))
	h.accept(next)
	h.wantTip(next)
	h.verify()
}
