package apiclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/wallet"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// TestClientAnswers checks what the client makes of each kind of answer,
// including ones no hashforge node gives.
func TestClientAnswers(t *testing.T) {
	tx := wallet.Transfer(chain.FaucetKey(), chain.Address{9}, 1, 1000, 0, nil, chain.Regtest)
	tests := []struct {
		name    string
		status  int
		body    string
		call    func(context.Context, *apiclient.Client) error
		apiErr  *apiclient.APIError // the *APIError wanted, or nil for another error
		wantErr string              // substring of the error; "" for success
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
			&apiclient.APIError{Status: 400, Code: "fee-too-low", Message: "fee 10 is below the minimum of 150"}, "fee-too-low: fee 10"},
		{"error without code", 404, `{"error":"no such endpoint"}`, account,
			&apiclient.APIError{Status: 404, Message: "no such endpoint"}, "HTTP 404: no such endpoint"},
		{"not the API's error body", 502, `<html>Bad Gateway</html>`, network,
			&apiclient.APIError{Status: 502, Message: "Bad Gateway"}, "HTTP 502: Bad Gateway"},
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
			err := tt.call(context.Background(), &apiclient.Client{URL: srv.URL + "/"})
			var ae *apiclient.APIError
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

func network(ctx context.Context, c *apiclient.Client) error { _, err := c.Network(ctx); return err }

func account(ctx context.Context, c *apiclient.Client) error {
	_, err := c.Account(ctx, chain.Address{})
	return err
}

func submit(tx *chain.Tx) func(context.Context, *apiclient.Client) error {
	return func(ctx context.Context, c *apiclient.Client) error { _, err := c.SendTx(ctx, tx); return err }
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
	c := &apiclient.Client{URL: url}
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

// TestClientToken: a client sends its token, or for a write the one its
// cookie file holds, as a bearer token; one without meets the node's 401 as
// an *APIError, and a cookie it cannot read fails the write before it is sent.
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
	dir := t.TempDir()
	cookie, other := filepath.Join(dir, "api.cookie"), filepath.Join(dir, "other.cookie")
	for path, token := range map[string]string{cookie: "t0k\n", other: "other"} {
		if err := os.WriteFile(path, []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing")
	for _, tt := range []struct {
		name, token, cookie string
		status              int // 0: no answer, the cookie is not read
	}{
		{"token", "t0k", "", http.StatusOK},
		{"none", "", "", http.StatusUnauthorized},
		{"another token", "other", "", http.StatusUnauthorized},
		{"cookie", "", cookie, http.StatusOK},
		{"another cookie", "", other, http.StatusUnauthorized},
		{"token before cookie", "t0k", other, http.StatusOK},
		{"missing cookie", "", missing, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &apiclient.Client{URL: srv.URL, Token: tt.token, Cookie: tt.cookie}
			_, err := c.SendTx(context.Background(), tx)
			var ae *apiclient.APIError
			switch {
			case tt.status == http.StatusOK && err != nil,
				tt.status == 0 && (!errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing)),
				tt.status > http.StatusOK && (!errors.As(err, &ae) || ae.Status != tt.status):
				t.Errorf("%v, want HTTP %d", err, tt.status)
			}
			// Reads need no credential: a missing cookie does not fail them.
			if _, err := c.Network(context.Background()); errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a read: %v, want the cookie left unread", err)
			}
		})
	}
}

func TestAccountNextNonce(t *testing.T) {
	a := apiclient.Account{Nonce: 7, Pending: 3}
	if got := a.NextNonce(); got != 10 {
		t.Errorf("NextNonce of nonce 7 with 3 pending: %d, want 10", got)
	}
}

func TestAPIErrorMessage(t *testing.T) {
	tests := []struct {
		err  apiclient.APIError
		want string
	}{
		{apiclient.APIError{Status: 400, Code: "insufficient-funds", Message: "balance 5 is below 7"}, "insufficient-funds: balance 5 is below 7"},
		{apiclient.APIError{Status: 404, Message: "no such endpoint"}, "HTTP 404: no such endpoint"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.err, got, tt.want)
		}
	}
}
