// Package api serves a node over HTTP: the JSON API under /api and
// Prometheus metrics on /metrics.
package api

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/p2p"
)

// Chain is what the API reads of the chain.
type Chain interface {
	Tip() chain.Tip
	Params() *chain.Params
	Transaction(txid chain.Hash) (*chain.Tx, chain.TxLocation, bool, error)
}

// Miner is what the API reads of the miner.
type Miner interface {
	Mining() bool
	BlocksFound() uint64
	Devices() []hasher.DeviceStats
	Hashrate(window time.Duration) (float64, bool)
}

// Peers is what the API reads of the peer layer.
type Peers interface {
	Peers() []p2p.PeerInfo
	Agreement() (agree, total int)
	Sync() p2p.SyncStatus
}

// Config names the parts of a node the API serves.
type Config struct {
	Chain Chain
	Miner Miner // nil when the node does not mine
	Peers Peers
	Pool  Pool
	// Key is the node's own key: POST /api/words signs with it.
	Key ed25519.PrivateKey
}

// Server answers HTTP requests for one node.
type Server struct {
	cfg Config
	mux *http.ServeMux

	wordsMu sync.Mutex // one words transaction at a time takes the next nonce
}

// New returns the node's HTTP handler.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&metrics{chain: cfg.Chain, miner: cfg.Miner},
	)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /api/status", s.status)
	s.mux.HandleFunc("GET /api/peers", s.listPeers)
	s.mux.HandleFunc("POST /api/tx", s.postTx)
	s.mux.HandleFunc("GET /api/tx/{txid}", s.getTx)
	s.mux.HandleFunc("GET /api/mempool", s.mempool)
	s.mux.HandleFunc("GET /api/accounts/{addr}", s.account)
	s.mux.HandleFunc("POST /api/words", s.words)
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "no such endpoint")
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Status is the body of GET /api/status.
type Status struct {
	Network string     `json:"network"`
	Height  uint64     `json:"height"`
	Tip     chain.Hash `json:"tip"`
	Mining  bool       `json:"mining"`
	// Hashrate is H/s over the last 60 s, null until the window has filled.
	Hashrate *float64 `json:"hashrate"`
	Peers    int      `json:"peers"`
	// Agreement is the share of peers whose tip is ours, null without peers;
	// PeersAgreeing counts them.
	Agreement     *float64 `json:"agreement"`
	PeersAgreeing int      `json:"peers_agreeing"`
	// Sync is the height against the best a peer has shown, with the block
	// rate over the last few seconds.
	Sync p2p.SyncStatus `json:"sync"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	tip := s.cfg.Chain.Tip()
	st := Status{Network: s.cfg.Chain.Params().Name, Height: tip.Height, Tip: tip.Hash}
	if s.cfg.Miner != nil {
		st.Mining = s.cfg.Miner.Mining()
		if rate, ok := s.cfg.Miner.Hashrate(time.Minute); ok {
			st.Hashrate = &rate
		}
	}
	st.Sync = s.cfg.Peers.Sync()
	agree, total := s.cfg.Peers.Agreement()
	st.Peers, st.PeersAgreeing = total, agree
	if total > 0 {
		share := float64(agree) / float64(total)
		st.Agreement = &share
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) listPeers(w http.ResponseWriter, r *http.Request) {
	peers := s.cfg.Peers.Peers()
	if peers == nil {
		peers = []p2p.PeerInfo{}
	}
	writeJSON(w, http.StatusOK, peers)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// apiError is the body of every error answer: a message for people and, where
// a caller may branch on it, a stable code.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// Codes of errors that are the API's own; refused transactions carry the
// pool's and the chain's codes.
const (
	codeNotFound  = "not-found"
	codeMalformed = "malformed"
	codeTooLarge  = "too-large"
	codeInternal  = "internal"
)

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: msg, Code: code})
}
