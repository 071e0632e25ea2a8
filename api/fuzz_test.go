package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/chain"
)

// serve answers one request in process and checks it is a JSON answer with
// one of the statuses allowed, and an "error" field when it is not 2xx.
func serve(t *testing.T, h http.Handler, req *http.Request, allowed ...int) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	ok := false
	for _, s := range allowed {
		ok = ok || rec.Code == s
	}
	if !ok {
		t.Fatalf("%s %s: status %d %s", req.Method, req.URL, rec.Code, rec.Body)
	}
	var body map[string]any
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: content type %q", req.Method, req.URL, ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil && rec.Code >= 300 {
		t.Fatalf("%s %s: %d with a body that is no JSON object: %s", req.Method, req.URL, rec.Code, rec.Body)
	}
	if rec.Code >= 300 && body["error"] == nil {
		t.Fatalf("%s %s: %d without an error message: %s", req.Method, req.URL, rec.Code, rec.Body)
	}
}

// FuzzControlBodies posts arbitrary bodies to the endpoints that steer the
// node: every answer is a JSON success or a JSON client error, never a 5xx.
func FuzzControlBodies(f *testing.F) {
	for _, w := range writes {
		f.Add(w.body)
	}
	f.Add(`{"enabled": "yes"}`)
	f.Add(`{"threads": 1e99}`)
	f.Add(`{"addr": "[::1]:8999"}`)
	srv := newServer(f, chain.FaucetKey())
	h := srv.Config.Handler
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/api/mining", "/api/peers"} {
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1"+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "application/json")
			serve(t, h, req, http.StatusOK, http.StatusAccepted, http.StatusBadRequest,
				http.StatusForbidden, http.StatusConflict, http.StatusRequestEntityTooLarge)
		}
	})
}

// FuzzBlockQueries asks for arbitrary block ids and page queries: a block,
// a page, 400 or 404, never a 5xx.
func FuzzBlockQueries(f *testing.F) {
	for _, seed := range []string{"latest", "0", "1", "18446744073709551615", strings.Repeat("ab", 32), "xyz", "-1", "from=1&limit=2", "limit=0", "from=%zz"} {
		f.Add(seed)
	}
	srv := newServer(f, chain.FaucetKey())
	srv.extend(f, 2)
	h := srv.Config.Handler
	f.Fuzz(func(t *testing.T, s string) {
		// "." and ".." are path segments: the mux redirects to the clean path.
		if s != "." && s != ".." {
			serve(t, h, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/api/blocks/"+url.PathEscape(s), nil),
				http.StatusOK, http.StatusBadRequest, http.StatusNotFound)
		}
		for _, list := range []string{"/api/blocks?", "/api/chain?"} {
			req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
			req.URL.Path, req.URL.RawQuery = strings.TrimSuffix(list, "?"), s
			serve(t, h, req, http.StatusOK, http.StatusBadRequest)
		}
	})
}
