//go:build unix

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
)

// These tests run real nodes and move coins between them with the wallet
// CLI and the JSON API, the way a user would.

// txStatus reads a transaction's status on n; found is false on a 404.
func (n *node) txStatus(txid chain.Hash) (st apiclient.TxStatus, found bool, err error) {
	got, err := n.api().Tx(context.Background(), txid)
	switch {
	case apiclient.IsNotFound(err):
		return st, false, nil
	case err != nil:
		return st, false, err
	}
	return *got, true, nil
}

// balance reads an address's balance in units on n.
func (n *node) balance(addr string) (uint64, error) {
	a, err := chain.ParseAddress(addr)
	if err != nil {
		return 0, err
	}
	acc, err := n.api().Account(context.Background(), a)
	return acc.Balance, err
}

// confirmedOnAll reports whether txid is confirmed at one height in one block
// on every node.
func confirmedOnAll(txid chain.Hash, nodes ...*node) (bool, string) {
	var desc []string
	var first chain.Hash
	for i, n := range nodes {
		st, found, err := n.txStatus(txid)
		if err != nil {
			return false, fmt.Sprintf("%s: %v", n.name, err)
		}
		var height uint64
		var block chain.Hash
		if st.Height != nil && st.Block != nil {
			height, block = *st.Height, *st.Block
		}
		desc = append(desc, fmt.Sprintf("%s: %s at %d in %.12s (found %t)", n.name, st.Status, height, block, found))
		if i == 0 {
			first = block
		}
		if !found || st.Status != "confirmed" || block != first {
			return false, strings.Join(desc, "; ")
		}
	}
	return true, strings.Join(desc, "; ")
}

// TestTxBetweenNodes: coins A mined are sent with `miner wallet send` through
// A's API; once mined, the recipient's balance is right to the unit on both
// nodes and the transaction is confirmed at the same height on both.
func TestTxBetweenNodes(t *testing.T) {
	dir := t.TempDir()
	keyA := filepath.Join(dir, "a.key")
	addrA := walletNew(t, keyA)
	recipient := walletNew(t, filepath.Join(dir, "r.key"))

	a := startNode(t, "A", nodeOpts{mine: true, interval: "300ms", extra: []string{"--address", addrA}})
	b := startNode(t, "B", nodeOpts{peers: []string{a.addr()}})
	waitFor(t, 30*time.Second, "A's coinbases spendable, B following", func() (bool, string) { return sameTip(2, a, b) })

	txid := walletSend(t, append([]string{"--key", keyA, "--to", recipient, "--amount", "12.34567891", "--fee", "0.0001"}, a.walletFlags()...)...)
	took := waitFor(t, 30*time.Second, "the transfer confirmed in one block on A and B", func() (bool, string) {
		return confirmedOnAll(txid, a, b)
	})
	t.Logf("confirmed on both nodes %s after sending", took.Round(time.Millisecond))
	for _, n := range []*node{a, b} {
		if got, err := n.balance(recipient); err != nil || got != 1_234_567_891 {
			t.Errorf("%s: recipient holds %d units (%v), want 1234567891", n.name, got, err)
		}
	}
	if bal := balanceOf(t, b.url(), recipient); bal.Balance != "12.34567891" || bal.Units != 1_234_567_891 {
		t.Errorf("wallet balance on B: %+v, want 12.34567891 coins, 1234567891 units", bal)
	}
}

// postTx posts a transaction to a node's API and returns the status and,
// for a refusal, its code.
func postTx(n *node, tx *chain.Tx) (int, string, error) {
	_, err := n.api().SendTx(context.Background(), tx)
	var refusal *apiclient.APIError
	switch {
	case errors.As(err, &refusal):
		return refusal.Status, refusal.Code, nil
	case err != nil:
		return 0, "", err
	}
	return http.StatusOK, "", nil
}

// TestDoubleSpend gives two nodes, both mining, two transfers of the faucet
// with the same nonce to different recipients at the same moment. Exactly
// one confirms, the same on both nodes, and the replayed chains (miner
// verify: every balance and nonce from genesis) hold on both.
func TestDoubleSpend(t *testing.T) {
	a := startNode(t, "A", nodeOpts{mine: true, interval: "200ms"})
	b := startNode(t, "B", nodeOpts{mine: true, interval: "200ms", peers: []string{a.addr()}})
	waitFor(t, 30*time.Second, "A and B on one tip", func() (bool, string) { return sameTip(1, a, b) })

	var txs [2]*chain.Tx
	for i, name := range []string{"x", "y"} {
		to := chain.AddressOf([]byte(name))
		txs[i] = &chain.Tx{Kind: chain.TxTransfer, To: to, Amount: 5 * chain.Coin, Fee: 1000}
		txs[i].Sign(chain.FaucetKey(), chain.Regtest.Magic)
	}
	// Each node takes its own unless the other's reached it first: then the
	// second is a replacement that pays no more, and refused.
	var wg sync.WaitGroup
	var accepted atomic.Int32
	for i, n := range []*node{a, b} {
		wg.Go(func() {
			status, code, err := postTx(n, txs[i])
			switch {
			case err != nil:
				t.Errorf("post to %s: %v", n.name, err)
			case status == http.StatusOK:
				accepted.Add(1)
			case status != http.StatusUnprocessableEntity || code != "replacement-fee-too-low":
				t.Errorf("post to %s: %d %s, want 200 or a refused replacement", n.name, status, code)
			}
		})
	}
	wg.Wait()
	if accepted.Load() == 0 {
		t.Fatal("neither node took its transfer")
	}

	var winner, loser *chain.Tx
	waitFor(t, 30*time.Second, "one of the two confirmed on both nodes", func() (bool, string) {
		for i, tx := range txs {
			if ok, desc := confirmedOnAll(tx.Hash(), a, b); ok {
				winner, loser = tx, txs[1-i]
				return true, desc
			}
		}
		return false, "neither confirmed on both"
	})
	// Let a few more blocks come: the loser must never confirm, and must
	// leave both pools.
	st := a.mustStatus(t)
	waitFor(t, 30*time.Second, "three more blocks on one tip", func() (bool, string) { return sameTip(st.Height+3, a, b) })
	for _, n := range []*node{a, b} {
		if _, found, err := n.txStatus(loser.Hash()); err != nil || found {
			t.Errorf("%s: the double spend is still known (found %t, %v)", n.name, found, err)
		}
		for _, tx := range txs {
			got, err := n.balance(tx.To.String())
			want := uint64(0)
			if tx == winner {
				want = tx.Amount
			}
			if err != nil || got != want {
				t.Errorf("%s: %s holds %d units (%v), want %d", n.name, tx.To, got, err, want)
			}
		}
	}
	for _, n := range []*node{a, b} {
		n.stop(t, 5*time.Second)
		if r := verify(t, "regtest", n.datadir); r.code != 0 {
			t.Errorf("%s: miner verify exit %d\n%s", n.name, r.code, r.stderr)
		}
	}
}

// TestReorgReturnsTx: a transfer confirmed on a lighter branch goes back to
// the pool when its node moves to the heavier branch, travels to the miners
// of that branch and confirms there.
func TestReorgReturnsTx(t *testing.T) {
	heavy := startNode(t, "heavy", nodeOpts{mine: true, interval: "50ms"})
	light := startNode(t, "light", nodeOpts{mine: true, interval: "400ms"})
	waitFor(t, 30*time.Second, "both branches under way", func() (bool, string) {
		okH, dh := sameTip(30, heavy)
		okL, dl := sameTip(2, light)
		return okH && okL, dh + "; " + dl
	})
	tx := &chain.Tx{Kind: chain.TxTransfer, To: chain.AddressOf([]byte("r")), Amount: chain.Coin, Fee: 1000}
	tx.Sign(chain.FaucetKey(), chain.Regtest.Magic)
	if status, code, err := postTx(light, tx); err != nil || status != http.StatusOK {
		t.Fatalf("post to light: %d %s %v", status, code, err)
	}
	id := tx.Hash()
	waitFor(t, 30*time.Second, "the transfer confirmed on the light branch", func() (bool, string) { return confirmedOnAll(id, light) })
	before, _, _ := light.txStatus(id)

	// A third node joins both: light must reorganise onto heavy's branch.
	bridge := startNode(t, "bridge", nodeOpts{peers: []string{heavy.addr(), light.addr()}})
	waitFor(t, 60*time.Second, "the transfer confirmed on the heavy branch on all three", func() (bool, string) {
		ok, desc := confirmedOnAll(id, heavy, light, bridge)
		if st, _, _ := light.txStatus(id); st.Block != nil && before.Block != nil && *st.Block == *before.Block {
			ok = false
		}
		return ok, desc
	})
	if !strings.Contains(light.log(), "mempool follows a reorganisation") {
		t.Error("light's log does not show the pool following the reorganisation")
	}
}
