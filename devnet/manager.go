package devnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/internal/httpguard"
)

// NodeInfo is one node as the manager API shows it.
type NodeInfo struct {
	Index int            `json:"index"`
	ID    *chain.Address `json:"id"` // null until the node has answered once
	P2P   string         `json:"p2p"`
	HTTP  string         `json:"http"`
	State string         `json:"state"` // "running" or "stopped"
	// What the node answers now; null while it does not answer.
	Height *uint64     `json:"height"`
	Tip    *chain.Hash `json:"tip"`
	Peers  *int        `json:"peers"`
	Mining *bool       `json:"mining"`
	// Hashrate is hashes per second over the last 10 s, null until that
	// window has filled.
	Hashrate *float64 `json:"hashrate"`
}

// maxBody bounds a request body: the API's bodies are a few bytes.
const maxBody = 1 << 10

// handler serves the manager API.
func (nw *network) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/nodes", methods{http.MethodGet: nw.listNodes, http.MethodPost: nw.addNode})
	mux.Handle("/nodes/{i}/stop", methods{http.MethodPost: nw.stopNodeHTTP})
	mux.Handle("/mining", methods{http.MethodPost: nw.postMining})
	mux.Handle("/shutdown", methods{http.MethodPost: nw.shutdown})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s (see GET /nodes, POST /mining, /nodes, /nodes/{i}/stop, /shutdown)", r.URL.Path))
	})
	return guard(mux)
}

// guard keeps web pages away from the manager, which listens on loopback
// alone (httpguard), and takes POST bodies in JSON only: no HTML form can
// send that.
func guard(h http.Handler) http.Handler {
	return httpguard.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if !httpguard.IsJSON(r.Header.Get("Content-Type")) {
				writeError(w, http.StatusUnsupportedMediaType, "POST wants Content-Type: application/json")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		h.ServeHTTP(w, r)
	}), httpguard.NewHosts("127.0.0.1"), writeError)
}

// methods routes a path's requests by method, answering any other method
// with 405 and the ones allowed.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	allow := strings.Join(slices.Sorted(maps.Keys(m)), ", ")
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: allowed: %s", r.Method, r.URL.Path, allow))
}

func (nw *network) listNodes(w http.ResponseWriter, r *http.Request) {
	nw.writeNodes(w, r, http.StatusOK)
}

// writeNodes answers with every node as it answers now.
func (nw *network) writeNodes(w http.ResponseWriter, r *http.Request, status int) {
	states := nw.poll(r.Context(), nil)
	out := make([]NodeInfo, len(states))
	for i, s := range states {
		out[i] = nw.cfg.info(s)
	}
	writeJSON(w, status, out)
}

// addNode answers POST /nodes (an empty body or {}): a node started as the
// others were, joined to the newest running one, once it answers.
func (nw *network) addNode(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeStrict(body, &struct{}{}); err != nil {
			writeError(w, http.StatusBadRequest, "want no body or {}: "+err.Error())
			return
		}
	}
	n, err := nw.add(r.Context())
	switch {
	case errors.Is(err, errStopping):
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	case errors.Is(err, errFull), errors.Is(err, errPortTaken):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, nw.cfg.info(nw.poll(r.Context(), []*node{n})[0]))
}

// stopNodeHTTP answers POST /nodes/{i}/stop once node i has ended.
func (nw *network) stopNodeHTTP(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.PathValue("i"))
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%v: %q is not a node index", errNoNode, r.PathValue("i")))
		return
	}
	n, err := nw.stopNode(i)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, nw.cfg.info(nw.poll(r.Context(), []*node{n})[0]))
}

// postMining answers POST /mining {"enabled": true|false} with every node as it
// is afterwards.
func (nw *network) postMining(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	enabled, err := decodeMining(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := nw.setMining(r.Context(), enabled); err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	nw.writeNodes(w, r, http.StatusOK)
}

// shutdown answers POST /shutdown once every node has stopped; Run then
// returns.
func (nw *network) shutdown(w http.ResponseWriter, r *http.Request) {
	nw.stop()
	select {
	case <-nw.halted:
	case <-r.Context().Done():
		return
	}
	nw.writeNodes(w, r, http.StatusOK)
}

// decodeMining reads the body of POST /mining.
func decodeMining(body []byte) (bool, error) {
	var req struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decodeStrict(body, &req); err != nil {
		return false, fmt.Errorf(`want {"enabled": true|false}: %w`, err)
	}
	if req.Enabled == nil {
		return false, errors.New(`want {"enabled": true|false}: "enabled" is missing`)
	}
	return *req.Enabled, nil
}

// decodeStrict reads one JSON object into v, refusing unknown fields and
// anything after the object.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the object")
	}
	return nil
}

// readBody reads a request body, answering 413 when it is over maxBody.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	if err == nil {
		return body, true
	}
	if errors.As(err, new(*http.MaxBytesError)) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", maxBody))
	} else {
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
	}
	return nil, false
}

// info is a polled node as the API shows it.
func (c *Config) info(s nodeState) NodeInfo {
	in := NodeInfo{Index: s.index, ID: s.id, P2P: c.p2pAddr(s.index), HTTP: c.httpAddr(s.index), State: "running"}
	if s.state == "down" || s.state == "stopped" {
		in.State = "stopped"
	}
	if st := s.st; st != nil {
		in.Height, in.Tip, in.Peers, in.Mining, in.Hashrate = &st.Height, &st.Tip, &st.Peers, &st.Mining, st.Hashrate.S10
	}
	return in
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiclient.ErrorBody{Error: msg})
}
