package wallet_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

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

func newFakeNode(t *testing.T, p *chain.Params) (*fakeNode, *wallet.Client) {
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
		if err := tx.CheckSanity(p.Magic); err != nil {
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
	return f, &wallet.Client{URL: srv.URL, HTTP: srv.Client()}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// TestClient sends from the faucet the way `miner wallet send` does, and
// checks the node's refusals arrive as *APIError with their codes.
func TestClient(t *testing.T) {
	ctx := context.Background()
	_, c := newFakeNode(t, chain.Devnet)
	p, err := c.Network(ctx)
	if err != nil || p != chain.Devnet {
		t.Fatalf("Network: %v, %v; want devnet", p, err)
	}
	to := chain.Address{1, 2, 3}
	for i := range 2 {
		a, err := c.Account(ctx, chain.FaucetAddress())
		if err != nil {
			t.Fatal(err)
		}
		want := wallet.Account{Address: chain.FaucetAddress(), Balance: chain.FaucetAlloc, Nonce: 3, Pending: uint64(i)}
		if a != want {
			t.Fatalf("Account: %+v, want %+v", a, want)
		}
		tx := wallet.Transfer(chain.FaucetKey(), to, chain.Coin, 1000, a.NextNonce(), []byte("hi"), p)
		txid, err := c.Submit(ctx, tx)
		if err != nil || txid != tx.Hash() {
			t.Fatalf("Submit: %s, %v; want txid %s", txid, err, tx.Hash())
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
			_, err := c.Submit(ctx, tt.tx)
			var ae *wallet.APIError
			if !errors.As(err, &ae) || ae.Status != tt.status || ae.Code != tt.code || ae.Message == "" {
				t.Fatalf("Submit: %v; want an *APIError, HTTP %d, code %s, with a message", err, tt.status, tt.code)
			}
			if !strings.HasPrefix(err.Error(), tt.code+": ") {
				t.Errorf("error %q: want it to read %q", err, tt.code+": message")
			}
		})
	}
}

// TestClientAnswers checks what the client makes of each kind of answer,
// including ones no hashforge node gives.
func TestClientAnswers(t *testing.T) {
	tx := wallet.Transfer(chain.FaucetKey(), chain.Address{9}, 1, 1000, 0, nil, chain.Regtest)
	tests := []struct {
		name    string
		status  int
		body    string
		call    func(context.Context, *wallet.Client) error
		apiErr  *wallet.APIError // the *APIError wanted, or nil for another error
		wantErr string           // substring of the error; "" for success
	}{
		{"status", 200, `{"network":"regtest","height":3,"peers":0}`, network, nil, ""},
		{"unknown network", 200, `{"network":"mainnet"}`, network, nil, `"mainnet"`},
		{"no network", 200, `{"height":3}`, network, nil, `""`},
		{"account", 200, `{"address":"0000000000000000000000000000000000000000","balance":18446744073709551615,"nonce":2,"pending":1}`, account, nil, ""},
		{"fractional balance", 200, `{"balance":1.5,"nonce":0,"pending":0}`, account, nil, "unexpected answer"},
		{"submitted", 200, `{"txid":"` + tx.Hash().String() + `"}`, submit(tx), nil, ""},
		{"another txid", 200, `{"txid":"` + strings.Repeat("ab", 32) + `"}`, submit(tx), nil, "hashes to " + tx.Hash().String()},
		{"no txid", 200, `{}`, submit(tx), nil, "hashes to"},
		{"refused", 400, `{"error":"fee 10 is below the minimum of 150","code":"fee-too-low"}`, submit(tx),
			&wallet.APIError{Status: 400, Code: "fee-too-low", Message: "fee 10 is below the minimum of 150"}, "fee-too-low: fee 10"},
		{"error without code", 404, `{"error":"no such endpoint"}`, account,
			&wallet.APIError{Status: 404, Message: "no such endpoint"}, "HTTP 404: no such endpoint"},
		{"not the API's error body", 502, `<html>Bad Gateway</html>`, network,
			&wallet.APIError{Status: 502, Message: "Bad Gateway"}, "HTTP 502: Bad Gateway"},
		{"not JSON", 200, `<html>a web page</html>`, network, nil, "is http://"},
		{"over the size limit", 200, `{"network":"` + strings.Repeat("x", 2<<20) + `"}`, network, nil, "over 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			// A trailing slash on the URL must not matter.
			err := tt.call(context.Background(), &wallet.Client{URL: srv.URL + "/"})
			var ae *wallet.APIError
			switch {
			case tt.wantErr == "":
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
			case err == nil || !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
			case tt.apiErr != nil && (!errors.As(err, &ae) || *ae != *tt.apiErr):
				t.Errorf("error %#v, want %#v", err, tt.apiErr)
			case tt.apiErr == nil && errors.As(err, &ae):
				t.Errorf("error %v is an *APIError; want it to say the answer was not the API's", err)
			}
		})
	}
}

func network(ctx context.Context, c *wallet.Client) error { _, err := c.Network(ctx); return err }

func account(ctx context.Context, c *wallet.Client) error {
	_, err := c.Account(ctx, chain.Address{})
	return err
}

func submit(tx *chain.Tx) func(context.Context, *wallet.Client) error {
	return func(ctx context.Context, c *wallet.Client) error { _, err := c.Submit(ctx, tx); return err }
}

// TestClientUnreachable checks the message a user sees when no node listens
// at --node, and that an interrupted request says so instead.
func TestClientUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	c := &wallet.Client{URL: url}
	_, err = c.Network(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach the node at "+url+": ") {
		t.Errorf("error %v, want it to start %q", err, "cannot reach the node at "+url+": ")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Account(ctx, chain.FaucetAddress())
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("cancelled: error %v, want context.Canceled, not 'cannot reach'", err)
	}
}

// TestClientToken: a client with a token sends it as a bearer token; one
// without meets the node's 401 as an *APIError.
func TestClientToken(t *testing.T) {
	tx := wallet.Transfer(chain.FaucetKey(), chain.Address{1}, 1, 1000, 0, nil, chain.Regtest)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0k" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "token needed", "code": "unauthorized"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"txid": tx.Hash()})
	}))
	defer srv.Close()
	for _, tt := range []struct {
		token  string
		status int
	}{{"t0k", http.StatusOK}, {"", http.StatusUnauthorized}, {"other", http.StatusUnauthorized}} {
		c := &wallet.Client{URL: srv.URL, Token: tt.token}
		_, err := c.Submit(context.Background(), tx)
		var ae *wallet.APIError
		if tt.status == http.StatusOK && err != nil || tt.status != http.StatusOK && (!errors.As(err, &ae) || ae.Status != tt.status) {
			t.Errorf("token %q: %v, want HTTP %d", tt.token, err, tt.status)
		}
	}
}
