package api

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// webFiles is the node's web page: plain HTML, CSS and JavaScript that read
// the JSON API and follow /api/events. No build step makes them.
//
//go:embed web
var webFiles embed.FS

// webFile is one embedded file, ready to serve.
type webFile struct {
	body        []byte
	contentType string
	etag        string
}

// webCSP keeps the page to its own origin: no inline script, no third party.
const webCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// webHandler serves the web page: index.html at "/" and the other files of
// web/ by name, to GET and HEAD (other methods get 405); any other path is
// 404. Browsers revalidate every load (no-cache), and an unchanged file
// answers 304 through its ETag.
func webHandler() http.Handler {
	files := map[string]webFile{}
	err := fs.WalkDir(webFiles, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := webFiles.ReadFile(p)
		if err != nil {
			return err
		}
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = http.DetectContentType(body)
		}
		sum := sha256.Sum256(body)
		files["/"+strings.TrimPrefix(p, "web/")] = webFile{body: body, contentType: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("api: embedded web page: " + err.Error()) // the files are compiled in; this cannot fail at run time
	}
	files["/"] = files["/index.html"]

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(f.contentType, "text/html") {
			h.Set("Content-Security-Policy", webCSP)
			h.Set("Referrer-Policy", "no-referrer")
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	})
}
