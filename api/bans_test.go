package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
)

// POST /api/bans bans an IP for a duration (24 h by default); what is not
// an IP or a positive duration is refused.
func TestBanBodies(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	tests := []struct {
		body     string
		status   int
		addr     string        // the host banned, on 200
		duration time.Duration // how long, on 200
	}{
		{`{"addr": "192.0.2.7", "duration": "1h"}`, http.StatusOK, "192.0.2.7", time.Hour},
		{`{"addr": "192.0.2.8"}`, http.StatusOK, "192.0.2.8", 24 * time.Hour},
		{`{"addr": "[::ffff:192.0.2.9]:8999", "duration": "90m"}`, http.StatusOK, "192.0.2.9", 90 * time.Minute},
		{`{"addr": "2001:db8::1", "duration": "1h"}`, http.StatusOK, "2001:db8::1", time.Hour},
		{`{"addr": "example.com"}`, http.StatusBadRequest, "", 0},
		{`{"addr": ""}`, http.StatusBadRequest, "", 0},
		{`{"addr": "192.0.2.7", "duration": "-1h"}`, http.StatusBadRequest, "", 0},
		{`{"addr": "192.0.2.7", "duration": "0s"}`, http.StatusBadRequest, "", 0},
		{`{"addr": "192.0.2.7", "duration": "soon"}`, http.StatusBadRequest, "", 0},
		{`{"addr": "192.0.2.7", "duration": 3600}`, http.StatusBadRequest, "", 0},
		{`{"addr": "192.0.2.7", "reason": "spam"}`, http.StatusBadRequest, "", 0},
	}
	for _, tt := range tests {
		t0 := time.Now()
		code, got := send(t, srv.URL+"/api/bans", tt.body)
		if code != tt.status {
			t.Errorf("POST %s: %d %v, want %d", tt.body, code, got, tt.status)
			continue
		}
		if code != http.StatusOK {
			if got["code"] != "malformed" {
				t.Errorf("POST %s: code %v, want malformed", tt.body, got["code"])
			}
			continue
		}
		until, err := time.Parse(time.RFC3339Nano, got["until"].(string))
		if err != nil || got["addr"] != tt.addr || got["kind"] != "banned" || got["reason"] == "" ||
			until.Before(t0.Add(tt.duration)) || until.After(time.Now().Add(tt.duration)) {
			t.Errorf("POST %s: %v, want %s banned for %s", tt.body, got, tt.addr, tt.duration)
		}
	}
}

// GET /api/bans lists the bans; DELETE /api/bans/{addr} lifts one, taking
// an IP in any of its forms, and answers 404 for an address not banned.
func TestBanList(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	c := &apiclient.Client{URL: srv.URL, Token: testToken}
	ctx := context.Background()
	for _, host := range []string{"192.0.2.2", "192.0.2.1", "2001:db8::1"} {
		if _, err := c.Ban(ctx, host, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Unban(ctx, "::ffff:192.0.2.2"); err != nil {
		t.Fatalf("Unban: %v", err)
	}
	if err := c.Unban(ctx, "192.0.2.2"); !apiclient.IsNotFound(err) {
		t.Errorf("Unban of a host no longer banned: %v, want 404", err)
	}
	bans, err := c.Bans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, b := range bans {
		addrs = append(addrs, b.Addr)
		if b.Kind != "banned" || time.Until(b.Until) < 59*time.Minute {
			t.Errorf("ban %+v, want banned for an hour", b)
		}
	}
	if want := []string{"192.0.2.1", "2001:db8::1"}; !slices.Equal(addrs, want) {
		t.Errorf("banned %v, want %v", addrs, want)
	}
}

// Banning and lifting bans are writes: both need the node's token.
func TestBansNeedToken(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	for _, tok := range []string{"", "wrong"} {
		auth := []string{"Authorization", "Bearer " + tok, "Content-Type", "application/json"}
		if code, _ := sendWith(t, srv.URL+"/api/bans", `{"addr": "192.0.2.1"}`, auth...); code != http.StatusUnauthorized {
			t.Errorf("POST /api/bans with token %q: %d, want 401", tok, code)
		}
		if resp, _ := request(t, http.MethodDelete, srv.URL+"/api/bans/192.0.2.1", "", auth...); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("DELETE /api/bans with token %q: %d, want 401", tok, resp.StatusCode)
		}
	}
	c := &apiclient.Client{URL: srv.URL, Token: testToken}
	if _, err := c.Ban(context.Background(), "192.0.2.1", 0); err != nil {
		t.Errorf("Ban with the token: %v", err)
	}
	if err := c.Unban(context.Background(), "192.0.2.1"); err != nil {
		t.Errorf("Unban with the token: %v", err)
	}
	if code, _, _ := get(t, srv.URL+"/api/bans"); code != http.StatusOK {
		t.Errorf("GET /api/bans without the token: %d, want 200", code)
	}
}

// FuzzBanBody posts arbitrary bodies to /api/bans: a ban, a JSON client
// error, never a 5xx.
func FuzzBanBody(f *testing.F) {
	for _, seed := range []string{
		`{"addr": "192.0.2.7", "duration": "1h"}`, `{"addr": "::1"}`, `{"addr": "1.2.3.4:5", "duration": "1ns"}`,
		`{"addr": "192.0.2.7", "duration": "9999999999h"}`, `{"duration": "-0s"}`, `{"addr": null}`, `[]`, ``,
	} {
		f.Add(seed)
	}
	h := newServer(f, chain.FaucetKey()).Config.Handler
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/api/bans", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		serve(t, h, req, http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	})
}
