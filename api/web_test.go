package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/chain"
)

// TestWebHandler serves the embedded page: index.html at "/" with the element
// ids the page's script and the browser test rely on, its files by name with
// their content types, and 404 for anything else.
func TestWebHandler(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	get := func(path string, header ...string) (*http.Response, string) {
		t.Helper()
		return request(t, http.MethodGet, srv.URL+path, "", header...)
	}

	resp, body := get("/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %s, Content-Type %q; want 200 text/html", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`id="height"`, `id="blocks"`, `id="status"`, `src="app.js"`, `href="style.css"`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /: page lacks %s", want)
		}
	}
	if resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET /: Cache-Control %q, CSP %q; want no-cache and a policy",
			resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Security-Policy"))
	}

	// An unchanged file revalidates to 304 by its ETag.
	etag := resp.Header.Get("ETag")
	if resp, _ := get("/", "If-None-Match", etag); etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET / with If-None-Match %s: %s, want 304 Not Modified", etag, resp.Status)
	}

	for path, ctype := range map[string]string{
		"/index.html":  "text/html",
		"/app.js":      "javascript",
		"/style.css":   "text/css",
		"/favicon.svg": "image/svg+xml",
	} {
		resp, body := get(path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), ctype) || body == "" {
			t.Errorf("GET %s: %s, Content-Type %q, %d bytes; want 200, %s and a body",
				path, resp.Status, resp.Header.Get("Content-Type"), len(body), ctype)
		}
	}
	_, script := get("/app.js")
	if !strings.Contains(script, "new EventSource('/api/events')") {
		t.Error("GET /app.js: the script does not follow /api/events")
	}
	// The page only reads: API writes need the node's token, which no page
	// may hold.
	for _, write := range []string{"method:", "POST", "sendBeacon", "XMLHttpRequest", "Authorization"} {
		if strings.Contains(script, write) {
			t.Errorf("GET /app.js: the script has %q; the page must only read", write)
		}
	}

	if resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
		t.Errorf("POST /: %s, Allow %q; want 405 and the methods allowed", resp.Status, resp.Header.Get("Allow"))
	}

	for _, path := range []string{"/nope.js", "/web/index.html", "/app.js/x", "/../go.mod"} {
		if resp, _ := get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
	}
}
