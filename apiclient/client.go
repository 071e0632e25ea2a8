// Package apiclient is the one Go client of a node's JSON API, with the
// types of the API's answers: the wallet, the devnet manager and the tests
// read the API through it, and the api package serves the same types.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// TokenEnv names the environment variable that holds an API token, read by
// the node for its own and by the commands that talk to one, so the token
// need not show in the process list.
const TokenEnv = "HASHFORGE_API_TOKEN"

// CookieFile is the file in a node's datadir that holds its API token
// while it serves HTTP, as bitcoind's .cookie does: a tool run by a user
// who can read the datadir finds the credential there, and no web page can.
const CookieFile = "api.cookie"

// maxResponse bounds the body of any answer read from a node: the API's
// answers are small, and a wrong URL must not fill memory.
const maxResponse = 1 << 20

// Client talks to a node's HTTP API.
type Client struct {
	URL   string // the node's base URL, such as http://127.0.0.1:8001
	Token string // the node's API token, sent with every request; "" for none
	// Cookie, with Token empty, is the node's cookie file, read for each
	// write: a node writes a new token each time it starts.
	Cookie string
	HTTP   *http.Client // nil uses http.DefaultClient
}

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

// IsNotFound reports whether err is the API's answer that what was asked
// for does not exist.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Status returns GET /api/status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	if err := c.do(ctx, http.MethodGet, "/api/status", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Network returns the parameters of the network the node runs: transfers
// must be signed with its magic.
func (c *Client) Network(ctx context.Context) (*chain.Params, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	p, err := chain.NetworkByName(st.Network)
	if err != nil {
		return nil, fmt.Errorf("node at %s: %w", c.URL, err)
	}
	return p, nil
}

// Peers returns the node's peers.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var ps []Peer
	err := c.do(ctx, http.MethodGet, "/api/peers", nil, &ps)
	return ps, err
}

// Bans returns the hosts banned and the addresses discouraged.
func (c *Client) Bans(ctx context.Context) ([]Ban, error) {
	var bs []Ban
	err := c.do(ctx, http.MethodGet, "/api/bans", nil, &bs)
	return bs, err
}

// Ban bans a host (an IP address) for d, or for the node's default (24 h)
// when d is 0.
func (c *Client) Ban(ctx context.Context, host string, d time.Duration) (Ban, error) {
	req := BanRequest{Addr: host}
	if d != 0 {
		req.Duration = d.String()
	}
	var b Ban
	err := c.post(ctx, "/api/bans", req, &b)
	return b, err
}

// Unban lifts the ban of a host or the discouragement of an address, as
// Bans lists it; one that is neither is an error for which IsNotFound holds.
func (c *Client) Unban(ctx context.Context, addr string) error {
	var a AddrBody
	return c.do(ctx, http.MethodDelete, "/api/bans/"+url.PathEscape(addr), nil, &a)
}

// Connect has the node dial addr (host:port) and keep it joined, as -k does.
func (c *Client) Connect(ctx context.Context, addr string) error {
	var a AddrBody
	return c.post(ctx, "/api/peers", AddrBody{Addr: addr}, &a)
}

// Account returns the state of the account at addr.
func (c *Client) Account(ctx context.Context, addr chain.Address) (Account, error) {
	var a Account
	err := c.do(ctx, http.MethodGet, "/api/accounts/"+addr.String(), nil, &a)
	return a, err
}

// Tx returns where a transaction stands; a transaction the node does not
// know is an error for which IsNotFound holds.
func (c *Client) Tx(ctx context.Context, txid chain.Hash) (*TxStatus, error) {
	var st TxStatus
	if err := c.do(ctx, http.MethodGet, "/api/tx/"+txid.String(), nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// SendTx hands a signed transaction to the node's mempool and returns its
// txid. A refusal is an *APIError whose Code names the broken rule.
func (c *Client) SendTx(ctx context.Context, tx *chain.Tx) (chain.Hash, error) {
	var r TxResult
	if err := c.post(ctx, "/api/tx", tx, &r); err != nil {
		return chain.Hash{}, err
	}
	// The node hashes what it decoded: another txid means it accepted a
	// transaction other than the one signed here.
	if want := tx.Hash(); r.TxID != want {
		return chain.Hash{}, fmt.Errorf("node at %s accepted the transaction as %s, but it hashes to %s", c.URL, r.TxID, want)
	}
	return r.TxID, nil
}

// SetMining starts or stops the node's hashing.
func (c *Client) SetMining(ctx context.Context, enabled bool) (MiningState, error) {
	var st MiningState
	err := c.post(ctx, "/api/mining", MiningChange{Enabled: &enabled}, &st)
	return st, err
}

// post sends v as JSON and decodes a 2xx answer into out.
func (c *Client) post(ctx context.Context, path string, v, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	return c.do(ctx, http.MethodPost, path, body, out)
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
	token, err := c.credential(method)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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

// credential returns the token a request carries: Token, or for a write
// what Cookie holds. Reads need none.
func (c *Client) credential(method string) (string, error) {
	if c.Token != "" || c.Cookie == "" || method == http.MethodGet {
		return c.Token, nil
	}
	b, err := os.ReadFile(c.Cookie)
	if err != nil {
		return "", fmt.Errorf("the node's API cookie: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// apiError reads the API's error body. Any other body (a proxy's page,
// another server) leaves the status to speak.
func apiError(status int, body []byte) *APIError {
	var j ErrorBody
	if json.Unmarshal(body, &j) != nil || j.Error == "" {
		return &APIError{Status: status, Message: http.StatusText(status)}
	}
	return &APIError{Status: status, Code: j.Code, Message: j.Error}
}
