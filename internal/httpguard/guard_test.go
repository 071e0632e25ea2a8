package httpguard

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	deny := func(w http.ResponseWriter, status int, msg string) { http.Error(w, msg, status) }
	tests := []struct {
		name         string
		loopbackOnly bool
		method, host string
		header       map[string]string
		want         int
	}{
		{"curl POST", true, "POST", "127.0.0.1:8001", nil, http.StatusNoContent},
		{"own page's POST", true, "POST", "127.0.0.1:8001", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:8001"}, http.StatusNoContent},
		{"another site's POST", true, "POST", "127.0.0.1:8001", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"an old browser's cross-site POST", true, "POST", "127.0.0.1:8001", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"another site's GET", true, "GET", "127.0.0.1:8001", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusNoContent},
		{"localhost", true, "GET", "localhost:8001", nil, http.StatusNoContent},
		{"IPv6 loopback", true, "GET", "[::1]:8001", nil, http.StatusNoContent},
		{"a rebound name", true, "GET", "evil.example:8001", nil, http.StatusForbidden},
		{"a rebound name's POST", true, "POST", "evil.example:8001", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusForbidden},
		{"a LAN name, served beyond loopback", false, "GET", "miner.lan:8001", nil, http.StatusNoContent},
		{"another site's POST, served beyond loopback", false, "POST", "miner.lan:8001", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://"+tt.host+"/api/mining", nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			Guard(ok, tt.loopbackOnly, deny).ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d (%s)", w.Code, tt.want, w.Body)
			}
		})
	}
}

func TestLoopback(t *testing.T) {
	for in, want := range map[string]bool{
		"127.0.0.1": true, "127.0.0.1:8001": true, "127.1.2.3:1": true, "[::1]:8001": true, "::1": true,
		"localhost": true, "localhost:8001": true,
		"0.0.0.0:8001": false, "10.0.0.1:8001": false, "evil.example": false, "localhost.evil.example:1": false, "": false,
	} {
		if got := Loopback(in); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", in, got, want)
		}
	}
}
