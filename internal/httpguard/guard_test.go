package httpguard

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	deny := func(w http.ResponseWriter, status int, msg string) { http.Error(w, msg, status) }
	loopback, lan := NewHosts("127.0.0.1:8001"), NewHosts("0.0.0.0:8001", "miner.lan")
	tests := []struct {
		name         string
		hosts        *Hosts
		method, host string
		header       map[string]string
		want         int
	}{
		{"curl POST", loopback, "POST", "127.0.0.1:8001", nil, http.StatusNoContent},
		{"own page's POST", loopback, "POST", "127.0.0.1:8001", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:8001"}, http.StatusNoContent},
		{"another site's POST", loopback, "POST", "127.0.0.1:8001", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"an old browser's cross-site POST", loopback, "POST", "127.0.0.1:8001", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"another site's GET", loopback, "GET", "127.0.0.1:8001", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusNoContent},
		{"localhost", loopback, "GET", "localhost:8001", nil, http.StatusNoContent},
		{"IPv6 loopback", loopback, "GET", "[::1]:8001", nil, http.StatusNoContent},
		{"a rebound name", loopback, "GET", "evil.example:8001", nil, http.StatusForbidden},
		{"a rebound name's POST", loopback, "POST", "evil.example:8001", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusForbidden},
		{"a LAN name given to the server", lan, "GET", "miner.lan:8001", nil, http.StatusNoContent},
		{"a rebound name, served beyond loopback", lan, "GET", "evil.example:8001", nil, http.StatusForbidden},
		{"another site's POST, served beyond loopback", lan, "POST", "miner.lan:8001", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://"+tt.host+"/api/mining", nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			Guard(ok, tt.hosts, deny).ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d (%s)", w.Code, tt.want, w.Body)
			}
		})
	}
}

func TestHosts(t *testing.T) {
	tests := []struct {
		listen string
		names  []string
		allow  []string
		refuse []string
	}{
		{"127.0.0.1:8001", nil,
			[]string{"127.0.0.1:8001", "127.0.0.1", "127.0.0.1:1", "[::1]:8001", "localhost:8001", "LOCALHOST", "127.1.2.3"},
			[]string{"evil.example:8001", "localhost.evil.example", "10.0.0.1:8001", "0.0.0.0:8001", ""}},
		{"[::1]:8001", nil, []string{"[::1]:8001", "127.0.0.1:8001", "localhost"}, []string{"evil.example"}},
		{"localhost:8001", nil, []string{"localhost:8001", "127.0.0.1:8001"}, []string{"evil.example"}},
		{"0.0.0.0:8001", []string{"Miner.LAN"},
			[]string{"10.0.0.7:8001", "[fe80::1]:8001", "127.0.0.1:8001", "localhost:8001", "miner.lan:8001", "MINER.lan"},
			[]string{"evil.example:8001", "lan:8001", ""}},
		{":8001", nil, []string{"192.168.1.5:8001"}, []string{"evil.example"}},
		{"10.0.0.7:8001", []string{"miner.lan"},
			[]string{"10.0.0.7:8001", "miner.lan", "localhost"},
			[]string{"10.0.0.8:8001", "127.0.0.1:8001", "evil.example"}},
		{"miner.lan:8001", nil, []string{"miner.lan:8001", "localhost"}, []string{"10.0.0.7:8001", "evil.example"}},
		{"10.0.0.7:8001", []string{"*"}, []string{"evil.example", "10.0.0.8"}, nil},
	}
	for _, tt := range tests {
		h := NewHosts(tt.listen, tt.names...)
		for _, host := range tt.allow {
			if !h.Allow(host) {
				t.Errorf("NewHosts(%q, %q).Allow(%q) = false, want true", tt.listen, tt.names, host)
			}
		}
		for _, host := range tt.refuse {
			if h.Allow(host) {
				t.Errorf("NewHosts(%q, %q).Allow(%q) = true, want false", tt.listen, tt.names, host)
			}
		}
	}
}

func TestIsJSON(t *testing.T) {
	for in, want := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "Application/JSON": true,
		"": false, "text/plain": false, "application/x-www-form-urlencoded": false, "multipart/form-data; boundary=x": false,
		"application/jsonx": false, "application/json;;": false,
	} {
		if got := IsJSON(in); got != want {
			t.Errorf("IsJSON(%q) = %v, want %v", in, got, want)
		}
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
