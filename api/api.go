// Package api serves a node over HTTP: the JSON API under /api and
// Prometheus metrics on /metrics.
package api

import (
	"encoding/json"
	"net/http"
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

// Server answers HTTP requests for one node.
type Server struct {
	chain Chain
	miner Miner // nil when the node does not mine
	peers Peers
	mux   *http.ServeMux
}

// New returns the node's HTTP handler; miner may be nil.
func New(c Chain, m Miner, p Peers) *Server {
	s := &Server{chain: c, miner: m, peers: p, mux: http.NewServeMux()}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&metrics{chain: c, miner: m},
	)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /api/status", s.status)
	s.mux.HandleFunc("GET /api/peers", s.listPeers)
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
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
	tip := s.chain.Tip()
	st := Status{Network: s.chain.Params().Name, Height: tip.Height, Tip: tip.Hash}
	if s.miner != nil {
		st.Mining = s.miner.Mining()
		if rate, ok := s.miner.Hashrate(time.Minute); ok {
			st.Hashrate = &rate
		}
	}
	st.Sync = s.peers.Sync()
	agree, total := s.peers.Agreement()
	st.Peers, st.PeersAgreeing = total, agree
	if total > 0 {
		share := float64(agree) / float64(total)
		st.Agreement = &share
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) listPeers(w http.ResponseWriter, r *http.Request) {
	peers := s.peers.Peers()
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

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
