package wallet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashforge/hashforge/chain"
)

// maxResponse bounds the body of any answer read from a node: the API's
// answers are small, and a wrong --node must not fill memory.
const maxResponse = 1 << 20

// Client talks to a node's HTTP API.
type Client struct {
	URL   string       // the node's base URL, such as http://127.0.0.1:8001
	Token string       // the node's API token, sent with every request; "" for none
	HTTP  *http.Client // nil uses http.DefaultClient
}

// Account is an account as a node sees it. Balance and Nonce are confirmed
// state; Pending counts the account's transfers waiting in the mempool.
type Account struct {
	Address chain.Address `json:"address"`
	Balance uint64        `json:"balance"` // units
	Nonce   uint64        `json:"nonce"`
	Pending uint64        `json:"pending"`
}

// NextNonce is the nonce the account's next transfer must carry: its pending
// transfers hold the nonces after the confirmed one.
func (a Account) NextNonce() uint64 { return a.Nonce + a.Pending }

// APIError is an error answer from the node, such as a refused transaction.
type APIError struct {
	Status  int    // HTTP status code
	Code    string // why, for programs ("insufficient-funds"); may be empty
	Message string // why, for people
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	}
	return e.Code + ": " + e.Message
}

// Network returns the parameters of the network the node runs: transfers
// must be signed with its magic.
func (c *Client) Network(ctx context.Context) (*chain.Params, error) {
	var st struct {
		Network string `json:"network"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/status", nil, &st); err != nil {
		return nil, err
	}
	p, err := chain.NetworkByName(st.Network)
	if err != nil {
		return nil, fmt.Errorf("node at %s: %w", c.URL, err)
	}
	return p, nil
}

// Account returns the state of the account at addr.
func (c *Client) Account(ctx context.Context, addr chain.Address) (Account, error) {
	var a Account
	err := c.do(ctx, http.MethodGet, "/api/accounts/"+addr.String(), nil, &a)
	return a, err
}

// Submit hands a signed transaction to the node's mempool and returns its txid.
// A refusal is an *APIError whose Code names the broken rule.
func (c *Client) Submit(ctx context.Context, tx *chain.Tx) (chain.Hash, error) {
	body, err := json.Marshal(tx)
	if err != nil {
		return chain.Hash{}, err
	}
	var r struct {
		TxID chain.Hash `json:"txid"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/tx", body, &r); err != nil {
		return chain.Hash{}, err
	}
	// The node hashes what it decoded: another txid means it accepted a
	// transaction other than the one signed here.
	if want := tx.Hash(); r.TxID != want {
		return chain.Hash{}, fmt.Errorf("node at %s accepted the transaction as %s, but it hashes to %s", c.URL, r.TxID, want)
	}
	return r.TxID, nil
}

// do sends a request with an optional JSON body and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("node URL %q: %w", c.URL, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return err // interrupted, not unreachable
		}
		// The *url.Error repeats the method and the whole URL; the node's
		// base URL says enough.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("cannot reach the node at %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if len(b) > maxResponse {
		return fmt.Errorf("%s %s: answer over %d bytes; is %s a hashforge node?", method, path, maxResponse, c.URL)
	}
	if resp.StatusCode/100 != 2 {
		return apiError(resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer (is %s a hashforge node?): %w", method, path, c.URL, err)
	}
	return nil
}

// apiError reads the API's error body, {"error": "...", "code": "..."}. Any
// other body (a proxy's page, another server) leaves the status to speak.
func apiError(status int, body []byte) *APIError {
	var j struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	if json.Unmarshal(body, &j) != nil || j.Error == "" {
		return &APIError{Status: status, Message: http.StatusText(status)}
	}
	return &APIError{Status: status, Code: j.Code, Message: j.Error}
}
