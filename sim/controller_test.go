package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// ctl is a test's client of a Controller.
type ctl struct {
	t   *testing.T
	url string
}

func (c ctl) call(method, path, body string, out any) int {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.url+path, bytes.NewBufferString(body))
	if body != "" || method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func (c ctl) statuses() []string {
	c.t.Helper()
	var ns []NodeStatus
	c.call("GET", "/nodes", "", &ns)
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Status
	}
	return out
}

func (c ctl) step(n int) []string {
	c.t.Helper()
	if code := c.call("POST", "/clock", fmt.Sprintf(`{"step": %d}`, n), nil); code != http.StatusOK {
		c.t.Fatalf("step: %d", code)
	}
	return c.statuses()
}

func (c ctl) balances(node string) map[string]float64 {
	c.t.Helper()
	var b map[string]float64
	c.call("GET", "/accounts?node="+node, "", &b)
	return b
}

// The classic scenario through the controller: the start pays aki 2, so 7
// and satoshi 5; aki sends so 1 coin through node 0, which broadcasts it
// for a tick while the others then receive it for a tick; node 1 mines for
// three ticks and broadcasts its block for one, then the others receive it
// for one;
// every node's balances end as the transfer says.
func TestControllerClassic(t *testing.T) {
	cc, err := NewController(DefaultCosts(), 1)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(cc)
	defer srv.Close()
	c := ctl{t, srv.URL}

	for _, node := range []string{"0", "1", "2"} {
		if b := c.balances(node); b["aki"] != 2 || b["so"] != 7 || b["satoshi"] != 5 {
			t.Fatalf("node %s at the start: %v, want aki 2, so 7, satoshi 5", node, b)
		}
	}
	if s := c.statuses(); s[0] != StatusIdle || s[1] != StatusIdle || s[2] != StatusIdle {
		t.Fatalf("statuses at the start %q, want all idle", s)
	}

	if code := c.call("POST", "/nodes/0/tx", `{"from": "aki", "to": "so", "amount": 1}`, nil); code != http.StatusOK {
		t.Fatalf("transfer: %d", code)
	}
	if s := c.statuses(); s[0] != StatusBroadcastingTx {
		t.Errorf("node 0 after the transfer: %q, want %s", s[0], StatusBroadcastingTx)
	}
	if s := c.step(1); s[1] != StatusReceivingTx || s[2] != StatusReceivingTx {
		t.Errorf("a tick later: %q, want nodes 1 and 2 %s", s, StatusReceivingTx)
	}
	if s := c.step(1); s[0] != StatusIdle || s[1] != StatusIdle || s[2] != StatusIdle {
		t.Errorf("two ticks later: %q, want all idle", s)
	}
	var pool []TxView
	c.call("GET", "/nodes/1/txpool", "", &pool)
	if len(pool) != 1 || pool[0].From != "aki" || pool[0].To != "so" || pool[0].Amount != 1 {
		t.Fatalf("node 1's txpool %+v, want aki's transfer", pool)
	}

	c.call("POST", "/nodes/1/mine", "", nil)
	for tick := range 3 {
		if s := c.statuses(); s[1] != StatusMining {
			t.Errorf("tick %d of mining: node 1 %q, want %s", tick, s[1], StatusMining)
		}
		c.step(1)
	}
	if s := c.statuses(); s[1] != StatusBroadcastingBlock {
		t.Errorf("after 3 ticks of mining: %q, want node 1 %s", s, StatusBroadcastingBlock)
	}
	if s := c.step(1); s[0] != StatusReceivingBlock || s[2] != StatusReceivingBlock {
		t.Errorf("a tick later: %q, want nodes 0 and 2 %s", s, StatusReceivingBlock)
	}
	c.step(1)
	var latest BlockView
	c.call("GET", "/nodes/2/latest", "", &latest)
	if latest.Height != 2 || len(latest.Txs) != 1 || latest.Txs[0].From != "aki" {
		t.Errorf("node 2's latest block %+v, want block 2 with aki's transfer", latest)
	}
	for _, node := range []string{"0", "1", "2"} {
		b := c.balances(node)
		if b["so"] != 8 || b["satoshi"] != 5 || b["aki"] >= 1 || b["aki"] < 0.99 {
			t.Errorf("node %s at the end: %v, want aki 1 less the fee, so 8, satoshi 5", node, b)
		}
	}
	var blocks []BlockView
	c.call("GET", "/nodes/0/blocks", "", &blocks)
	if len(blocks) != 3 || blocks[0].Height != 0 || blocks[2].Hash != latest.Hash {
		t.Errorf("node 0's blocks %+v, want genesis, the start's and node 1's", blocks)
	}

	// Refusals: an unknown node, a bad transfer, a write not in JSON, and
	// a step backwards; then a reset gives the start again.
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/nodes/9", "", http.StatusNotFound},
		{"POST", "/nodes/0/tx", `{"from": "aki", "to": "bob", "amount": 1}`, http.StatusBadRequest},
		{"POST", "/nodes/0/tx", `{"from": "aki", "to": "so", "amount": 100}`, http.StatusUnprocessableEntity},
		{"POST", "/clock", `{"tick": 0}`, http.StatusBadRequest},
		{"POST", "/clock", `{"step": 1, "extra": true}`, http.StatusBadRequest},
	} {
		if code := c.call(tc.method, tc.path, tc.body, nil); code != tc.want {
			t.Errorf("%s %s %s: %d, want %d", tc.method, tc.path, tc.body, code, tc.want)
		}
	}
	req, _ := http.NewRequest("POST", srv.URL+"/nodes/0/mine", nil)
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("a text/plain write: %v %v, want 415", resp.StatusCode, err)
	}
	c.call("POST", "/reset", "", nil)
	if b := c.balances("1"); b["aki"] != 2 || b["so"] != 7 {
		t.Errorf("after a reset: %v, want the start", b)
	}
}
