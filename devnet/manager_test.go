package devnet

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/chain"
)

// TestManagerRefusals sends the manager requests it must refuse, and some
// it must take, on a network without nodes: every answer is JSON, errors
// carry a message and the status says what went wrong.
func TestManagerRefusals(t *testing.T) {
	nw := &network{cfg: Config{Nodes: 1, BasePort: 30000, Dir: t.TempDir(), Network: chain.Regtest}, halted: make(chan struct{})}
	srv := httptest.NewServer(nw.handler())
	defer srv.Close()
	const js = "application/json"
	tests := []struct {
		name         string
		method, path string
		header       map[string]string
		body         string
		status       int
		want         string // in the error message; "" for a success
	}{
		{"list", "GET", "/nodes", nil, "", 200, ""},
		{"mining on none", "POST", "/mining", map[string]string{"Content-Type": js}, `{"enabled":true}`, 200, ""},
		{"JSON with a charset", "POST", "/mining", map[string]string{"Content-Type": js + "; charset=utf-8"}, `{"enabled":false}`, 200, ""},
		{"no content type", "POST", "/mining", nil, `{"enabled":false}`, 415, "Content-Type: application/json"},
		{"form content type", "POST", "/shutdown", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "a=b", 415, "Content-Type"},
		{"text content type", "POST", "/nodes", map[string]string{"Content-Type": "text/plain"}, "", 415, "Content-Type"},
		{"cross-site fetch", "POST", "/shutdown", map[string]string{"Content-Type": js, "Sec-Fetch-Site": "cross-site"}, "", 403, "cross-origin"},
		{"other origin", "POST", "/mining", map[string]string{"Content-Type": js, "Origin": "http://evil.example"}, `{"enabled":false}`, 403, "cross-origin"},
		{"rebound host", "GET", "/nodes", map[string]string{"Host": "evil.example"}, "", 403, `"evil.example"`},
		{"rebound host with port", "POST", "/mining", map[string]string{"Host": "evil.example:4999", "Content-Type": js}, `{"enabled":false}`, 403, "refused"},
		{"not JSON", "POST", "/mining", map[string]string{"Content-Type": js}, `enabled=false`, 400, `want {"enabled": true|false}`},
		{"no enabled", "POST", "/mining", map[string]string{"Content-Type": js}, `{}`, 400, `"enabled" is missing`},
		{"enabled not a bool", "POST", "/mining", map[string]string{"Content-Type": js}, `{"enabled":"yes"}`, 400, "bool"},
		{"unknown field", "POST", "/mining", map[string]string{"Content-Type": js}, `{"enabled":true,"threads":2}`, 400, "threads"},
		{"two objects", "POST", "/mining", map[string]string{"Content-Type": js}, `{"enabled":true}{}`, 400, "data after the object"},
		{"body too large", "POST", "/mining", map[string]string{"Content-Type": js}, `{"enabled":true` + strings.Repeat(" ", maxBody) + `}`, 413, "over 1024 bytes"},
		{"add with a field", "POST", "/nodes", map[string]string{"Content-Type": js}, `{"nodes":2}`, 400, "nodes"},
		{"stop an unknown node", "POST", "/nodes/0/stop", map[string]string{"Content-Type": js}, "", 404, "no such node"},
		{"stop a negative node", "POST", "/nodes/-1/stop", map[string]string{"Content-Type": js}, "", 404, "no such node"},
		{"stop a node by name", "POST", "/nodes/node0/stop", map[string]string{"Content-Type": js}, "", 404, "not a node index"},
		{"GET a POST endpoint", "GET", "/mining", nil, "", 405, "allowed: POST"},
		{"DELETE the nodes", "DELETE", "/nodes", nil, "", 405, "allowed: GET, POST"},
		{"GET stop", "GET", "/nodes/0/stop", nil, "", 405, "allowed: POST"},
		{"unknown path", "GET", "/api/status", nil, "", 404, "no such endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			req.Host = req.Header.Get("Host")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.Header.Get("Content-Type") != js {
				t.Fatalf("answer %s (%v): want JSON", resp.Header.Get("Content-Type"), err)
			}
			var msg string
			if obj, ok := body.(map[string]any); ok {
				msg, _ = obj["error"].(string)
			}
			if resp.StatusCode != tt.status || (tt.want == "") != (msg == "") || !strings.Contains(msg, tt.want) {
				t.Errorf("%s %s: %d %v; want %d and an error mentioning %q", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.want)
			}
			if resp.StatusCode == 405 && resp.Header.Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
		})
	}
}

func TestDecodeMining(t *testing.T) {
	for _, tt := range []struct {
		body    string
		want    bool
		wantErr bool
	}{
		{`{"enabled":true}`, true, false},
		{` {"enabled": false} ` + "\n", false, false},
		{`{"enabled":null}`, false, true},
		{`{"enabled":1}`, false, true},
		{`[]`, false, true},
		{`{"enabled":true}]`, false, true},
		{``, false, true},
	} {
		got, err := decodeMining([]byte(tt.body))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("decodeMining(%q) = %v, %v; want %v, error %v", tt.body, got, err, tt.want, tt.wantErr)
		}
	}
}
