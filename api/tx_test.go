package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
)

func getObject(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, body := request(t, http.MethodGet, url, "")
	return resp.StatusCode, decodeObject(t, resp, body)
}

func decodeObject(t *testing.T, resp *http.Response, body string) map[string]any {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	return m
}

// faucetPays is a transfer from the faucet, tuned by change before signing
// for the network with magic.
func faucetPays(magic [4]byte, change func(*chain.Tx)) *chain.Tx {
	_, to := chaintest.NewKey("recipient")
	tx := &chain.Tx{Kind: chain.TxTransfer, To: to, Amount: 5 * chain.Coin, Fee: 1000}
	if change != nil {
		change(tx)
	}
	tx.Sign(chain.FaucetKey(), magic)
	return tx
}

func jsonOf(t *testing.T, tx *chain.Tx) string {
	b, err := json.Marshal(tx)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPostTxRefusals: every kind of bad input is a JSON error with a code,
// and none of it reaches the pool.
func TestPostTxRefusals(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	valid := jsonOf(t, faucetPays(chain.Regtest.Magic, nil))
	tampered := faucetPays(chain.Regtest.Magic, nil)
	tampered.Amount++
	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"malformed JSON", `{"to": `, http.StatusBadRequest, "malformed"},
		{"unknown field", strings.Replace(valid, "{", `{"colour":"red",`, 1), http.StatusBadRequest, "malformed"},
		{"bad hex", "zz", http.StatusBadRequest, "malformed"},
		{"bad signature", jsonOf(t, tampered), http.StatusUnprocessableEntity, "bad-signature"},
		{"signed for devnet", jsonOf(t, faucetPays(chain.Devnet.Magic, nil)), http.StatusUnprocessableEntity, "bad-signature"},
		{"insufficient funds", jsonOf(t, faucetPays(chain.Regtest.Magic, func(tx *chain.Tx) { tx.Amount = chain.FaucetAlloc })), http.StatusUnprocessableEntity, "insufficient-funds"},
		{"fee too low", jsonOf(t, faucetPays(chain.Regtest.Magic, func(tx *chain.Tx) { tx.Fee = 1 })), http.StatusUnprocessableEntity, "fee-too-low"},
		{"memo too long", jsonOf(t, faucetPays(chain.Regtest.Magic, func(tx *chain.Tx) { tx.Memo = bytes.Repeat([]byte("w"), chain.MaxMemo+1) })), http.StatusUnprocessableEntity, "memo-too-long"},
		{"amount above the money supply", jsonOf(t, faucetPays(chain.Regtest.Magic, func(tx *chain.Tx) { tx.Amount = chain.MaxMoney + 1 })), http.StatusUnprocessableEntity, "bad-amount"},
		{"amount overflows 64 bits", strings.Replace(valid, `"amount":500000000`, `"amount":18446744073709551616`, 1), http.StatusUnprocessableEntity, "bad-amount"},
		{"nonce gap", jsonOf(t, faucetPays(chain.Regtest.Magic, func(tx *chain.Tx) { tx.Nonce = 5 })), http.StatusUnprocessableEntity, "nonce-gap"},
		{"coinbase", jsonOf(t, chain.NewCoinbase(1, chain.Address{}, 1, 0)), http.StatusUnprocessableEntity, "coinbase"},
		{"too large", `{"memo":"` + strings.Repeat("x", 1<<20) + `"}`, http.StatusRequestEntityTooLarge, "too-large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(t, srv.URL+"/api/tx", tt.body)
			// A missing "error" is nil, not "": the message must be a non-empty string.
			if msg, _ := body["error"].(string); status != tt.status || body["code"] != tt.code || msg == "" {
				t.Errorf("got %d %v, want %d with code %q", status, body, tt.status, tt.code)
			}
		})
	}
	if _, st, _ := srv.pool.Entries(); st.Count != 0 {
		t.Errorf("%d transactions pending after refusals", st.Count)
	}
}

// TestTxLifecycle posts a transfer in each accepted form, follows it from
// pending to confirmed, and reads the accounts it moved.
func TestTxLifecycle(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	txs := []*chain.Tx{
		faucetPays(chain.Regtest.Magic, nil),
		faucetPays(chain.Regtest.Magic, func(tx *chain.Tx) { tx.Nonce = 1 }),
		faucetPays(chain.Regtest.Magic, func(tx *chain.Tx) { tx.Nonce = 2; tx.Memo = []byte("hello") }),
	}
	bodies := []string{
		jsonOf(t, txs[0]),
		`{"hex":"` + hex.EncodeToString(txs[1].Bytes()) + `"}`,
		hex.EncodeToString(txs[2].Bytes()),
	}
	for i, body := range bodies {
		for range 2 { // posting again is harmless
			status, got := send(t, srv.URL+"/api/tx", body)
			if status != http.StatusOK || got["txid"] != txs[i].Hash().String() {
				t.Fatalf("post %d: %d %v", i, status, got)
			}
		}
	}
	faucet := chain.FaucetAddress().String()
	status, acc := getObject(t, srv.URL+"/api/accounts/"+faucet)
	if status != http.StatusOK || acc["balance"] != float64(chain.FaucetAlloc) || acc["nonce"] != 0.0 || acc["pending"] != 3.0 || acc["address"] != faucet {
		t.Errorf("faucet account: %d %v", status, acc)
	}
	status, pool := getObject(t, srv.URL+"/api/mempool")
	if list, _ := pool["txs"].([]any); status != http.StatusOK || pool["count"] != 3.0 || len(list) != 3 {
		t.Errorf("mempool: %d %v", status, pool)
	}
	status, got := getObject(t, srv.URL+"/api/tx/"+txs[2].Hash().String())
	if inner, _ := got["tx"].(map[string]any); status != http.StatusOK || got["status"] != "pending" || inner["memo"] != "hello" {
		t.Errorf("pending transaction: %d %v", status, got)
	}

	block := chaintest.Mine(t, chain.Regtest.Genesis, chain.Address{9}, txs...)
	if err := srv.chain.ProcessBlock(context.Background(), block); err != nil {
		t.Fatal(err)
	}
	status, got = getObject(t, srv.URL+"/api/tx/"+txs[0].Hash().String())
	if status != http.StatusOK || got["status"] != "confirmed" || got["height"] != 1.0 || got["block"] != block.Hash().String() || got["confirmations"] != 1.0 {
		t.Errorf("confirmed transaction: %d %v", status, got)
	}
	_, acc = getObject(t, srv.URL+"/api/accounts/"+faucet)
	if acc["balance"] != float64(chain.FaucetAlloc-3*(5*chain.Coin+1000)) || acc["nonce"] != 3.0 || acc["pending"] != 0.0 {
		t.Errorf("faucet after the block: %v", acc)
	}
	for path, want := range map[string]int{
		"/api/tx/" + strings.Repeat("ab", 32): http.StatusNotFound,
		"/api/tx/xyz":                         http.StatusBadRequest,
		"/api/accounts/xyz":                   http.StatusBadRequest,
		"/api/mempool?limit=-1":               http.StatusBadRequest,
	} {
		if status, body := getObject(t, srv.URL+path); status != want || body["error"] == nil {
			t.Errorf("GET %s: %d %v, want %d with an error", path, status, body, want)
		}
	}
}

func TestWords(t *testing.T) {
	broke, _ := chaintest.NewKey("broke")
	for _, tt := range []struct {
		name   string
		key    ed25519.PrivateKey
		body   string
		status int
		code   string
	}{
		{"words", chain.FaucetKey(), `{"text":"hello, chain"}`, http.StatusOK, ""},
		{"no coins for the fee", broke, `{"text":"hello"}`, http.StatusUnprocessableEntity, "insufficient-funds"},
		{"too long", chain.FaucetKey(), `{"text":"` + strings.Repeat("w", chain.MaxMemo+1) + `"}`, http.StatusUnprocessableEntity, "memo-too-long"},
		{"empty", chain.FaucetKey(), `{"text":""}`, http.StatusBadRequest, "malformed"},
		{"not an object", chain.FaucetKey(), `"hello"`, http.StatusBadRequest, "malformed"},
		{"unknown field", chain.FaucetKey(), `{"words":"hello"}`, http.StatusBadRequest, "malformed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.key)
			status, got := send(t, srv.URL+"/api/words", tt.body)
			if status != tt.status || tt.code != "" && got["code"] != tt.code {
				t.Fatalf("got %d %v, want %d %q", status, got, tt.status, tt.code)
			}
			if status != http.StatusOK {
				return
			}
			id, _ := chain.ParseHash(got["txid"].(string))
			tx, ok := srv.pool.Get(id)
			if !ok || string(tx.Memo) != "hello, chain" || tx.Sender() != chain.FaucetAddress() {
				t.Errorf("pending words transaction: %+v (found %t)", tx, ok)
			}
			// A second text takes the next nonce.
			if status, got := send(t, srv.URL+"/api/words", `{"text":"again"}`); status != http.StatusOK {
				t.Errorf("second words: %d %v", status, got)
			}
		})
	}
}
