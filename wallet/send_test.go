package wallet_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/wallet"
)

// fakeNode speaks the node's HTTP API as its contract writes it: one network,
// accounts with pending counts, and transactions checked as a node would.
type fakeNode struct {
	params *chain.Params
	mu     sync.Mutex
	// Confirmed balance and nonce by address; pending counts what was submitted.
	balance, nonce, pending map[chain.Address]uint64
}

func newFakeNode(t *testing.T, p *chain.Params) (*fakeNode, *apiclient.Client) {
	f := &fakeNode{
		params:  p,
		balance: map[chain.Address]uint64{chain.FaucetAddress(): chain.FaucetAlloc},
		nonce:   map[chain.Address]uint64{chain.FaucetAddress(): 3},
		pending: map[chain.Address]uint64{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"network": p.Name, "height": 12})
	})
	mux.HandleFunc("GET /api/accounts/{addr}", func(w http.ResponseWriter, r *http.Request) {
		a, err := chain.ParseAddress(r.PathValue("addr"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error(), "code": "bad-address"})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"address": a.String(), "balance": f.balance[a], "nonce": f.nonce[a], "pending": f.pending[a]})
	})
	mux.HandleFunc("POST /api/tx", func(w http.ResponseWriter, r *http.Request) {
		var tx chain.Tx
		if err := json.NewDecoder(r.Body).Decode(&tx); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if err := tx.CheckSanity(p.Magic, nil); err != nil {
			var re *chain.RuleError
			errors.As(err, &re)
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": re.Msg, "code": string(re.Code)})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		from := tx.Sender()
		switch {
		case tx.Nonce != f.nonce[from]+f.pending[from]:
			writeJSON(w, http.StatusConflict, map[string]string{"error": "nonce is not the sender's next", "code": "nonce-gap"})
		case tx.Amount+tx.Fee > f.balance[from]:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "balance too low", "code": "insufficient-funds"})
		default:
			f.pending[from]++
			writeJSON(w, http.StatusOK, map[string]any{"txid": tx.Hash()})
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, &apiclient.Client{URL: srv.URL, HTTP: srv.Client()}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// TestSend sends from the faucet twice as `miner wallet send` does: the fake
// node refuses a transfer for another network or with a nonce other than
// the next, so each send must have asked for both. The node's refusals of
// transfers built by hand arrive as *APIError with their codes.
func TestSend(t *testing.T) {
	ctx := context.Background()
	_, c := newFakeNode(t, chain.Devnet)
	p, err := c.Network(ctx)
	if err != nil || p != chain.Devnet {
		t.Fatalf("Network: %v, %v; want devnet", p, err)
	}
	to := chain.Address{1, 2, 3}
	for i := range 2 {
		if _, err := wallet.Send(ctx, c, chain.FaucetKey(), to, chain.Coin, 1000, []byte("hi")); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		a, err := c.Account(ctx, chain.FaucetAddress())
		want := apiclient.Account{Address: chain.FaucetAddress(), Balance: chain.FaucetAlloc, Nonce: 3, Pending: uint64(i + 1)}
		if err != nil || a != want {
			t.Fatalf("Account after send %d: %+v, %v; want %+v", i, a, err, want)
		}
	}

	refusals := []struct {
		name   string
		tx     *chain.Tx
		status int
		code   string
	}{
		{"signed for another network", wallet.Transfer(chain.FaucetKey(), to, 1, 1000, 5, nil, chain.Regtest), http.StatusBadRequest, "bad-signature"},
		{"nonce gap", wallet.Transfer(chain.FaucetKey(), to, 1, 1000, 9, nil, p), http.StatusConflict, "nonce-gap"},
		{"beyond the balance", wallet.Transfer(chain.FaucetKey(), to, chain.FaucetAlloc, 1000, 5, nil, p), http.StatusBadRequest, "insufficient-funds"},
		{"memo too long", wallet.Transfer(chain.FaucetKey(), to, 1, 1000, 5, make([]byte, chain.MaxMemo+1), p), http.StatusBadRequest, "memo-too-long"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.SendTx(ctx, tt.tx)
			var ae *apiclient.APIError
			if !errors.As(err, &ae) || ae.Status != tt.status || ae.Code != tt.code || ae.Message == "" {
				t.Fatalf("SendTx: %v; want an *APIError, HTTP %d, code %s, with a message", err, tt.status, tt.code)
			}
			if !strings.HasPrefix(err.Error(), tt.code+": ") {
				t.Errorf("error %q: want it to read %q", err, tt.code+": message")
			}
		})
	}
}
