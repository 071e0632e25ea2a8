// Package api serves a node over HTTP: the JSON API under /api, live events
// as Server-Sent Events, the web page at / and Prometheus metrics on /metrics.
package api

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/internal/httpguard"
	"github.com/hashforge/hashforge/p2p"
)

// Chain is what the API reads of the chain.
type Chain interface {
	Tip() chain.Tip
	Params() *chain.Params
	View(fn func(*chain.View) error) error
	Transaction(txid chain.Hash) (*chain.Tx, chain.TxLocation, bool, error)
	Subscribe() (<-chan chain.Tip, func())
	Stats() chain.Stats
}

// Miner is what the API reads and steers of the miner.
type Miner interface {
	Mining() bool
	// MiningError says why mining stopped by itself (the chain cannot store
	// a mined block); nil while it has not.
	MiningError() error
	// WriteErrors counts failed attempts to store a mined block.
	WriteErrors() uint64
	// Enabled says whether mining was asked for; Mining, whether it runs.
	Enabled() bool
	SetMining(on bool)
	Threads() (active, most int)
	SetThreads(n int) error
	BlocksFound() uint64
	Devices() []hasher.DeviceStats
	// Windows are the spans Hashrate averages over, shortest first.
	Windows() []time.Duration
	Hashrate(window time.Duration) (float64, bool)
	DeviceHashrate(i int, window time.Duration) (float64, bool)
}

// Peers is what the API reads and steers of the peer layer.
type Peers interface {
	Peers() []p2p.PeerInfo
	AgreementAt(tip chain.Hash) (agree, total int)
	Sync() p2p.SyncStatus
	Connect(addr string) error
	SubscribePeers() (<-chan p2p.PeerEvent, func())
	Traffic() []p2p.Traffic
	Bans() uint64
	Ban(host string, d time.Duration) (p2p.BanInfo, error)
	Unban(addr string) error
	Banned() []p2p.BanInfo
}

// Signer is the node's own key as the API may use it: its address is the
// node ID, and POST /api/words has it sign transfers. The key itself stays
// with the node.
type Signer interface {
	Address() chain.Address
	// Transfer returns a transfer from Address, signed for the node's network.
	Transfer(to chain.Address, amount, fee, nonce uint64, memo []byte) *chain.Tx
}

// Config names the parts of a node the API serves.
type Config struct {
	Chain Chain
	Miner Miner // nil when the node has no hashing device
	Peers Peers
	Pool  Pool
	// Stratum is the node's Stratum server; nil when it serves none.
	Stratum Stratum
	// PoolClient is the pool the devices mine for; nil when they mine
	// for the chain.
	PoolClient PoolClient
	// Signer signs for the node's own address; the node keeps the key.
	Signer Signer
	// Version is the build's version, shown in status and miner_info.
	Version string
	// Token must come as "Authorization: Bearer <token>" with every
	// request that changes something; empty, no such request is taken. A
	// web page cannot know it, so a browser cannot be made to write.
	Token string
	// Hosts are the names the API answers to: a request naming any other
	// host comes from a DNS-rebinding page and is refused.
	Hosts *httpguard.Hosts
	// Storage is probed by the health check; nil is not checked.
	Storage Storage
}

// Server answers HTTP requests for one node.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	handler http.Handler // mux behind the guard against other web pages
	nodeID  chain.Address
	events  chan struct{} // a slot per open event stream
	health  *health

	wordsMu sync.Mutex // one words transaction at a time takes the next nonce
}

// maxEventStreams bounds open /api/events streams: each holds a goroutine
// and subscriptions, so a client looping on connect cannot pile them up.
const maxEventStreams = 64

// New returns the node's HTTP handler.
func New(cfg Config) *Server {
	s := &Server{
		cfg:    cfg,
		mux:    http.NewServeMux(),
		nodeID: cfg.Signer.Address(),
		events: make(chan struct{}, maxEventStreams),
		health: &health{cfg: cfg},
	}
	s.mux.Handle("GET /metrics", newMetricsHandler(cfg, s.health))
	// The page takes every path the API does not, and answers GET alone.
	s.mux.Handle("/", webHandler())
	s.mux.HandleFunc("GET /api/status", s.status)
	s.mux.HandleFunc("GET /api/health", s.getHealth)
	s.mux.HandleFunc("GET /api/events", s.streamEvents)
	s.mux.HandleFunc("GET /api/blocks", s.listBlocks)
	s.mux.HandleFunc("GET /api/blocks/{id}", s.block)
	s.mux.HandleFunc("GET /api/chain", s.listChain)
	s.mux.HandleFunc("GET /api/peers", s.listPeers)
	s.mux.HandleFunc("POST /api/peers", s.write(s.connectPeer))
	s.mux.HandleFunc("GET /api/bans", s.listBans)
	s.mux.HandleFunc("POST /api/bans", s.write(s.ban))
	s.mux.HandleFunc("DELETE /api/bans/{addr}", s.write(s.unban))
	s.mux.HandleFunc("POST /api/mining", s.write(s.setMining))
	s.mux.HandleFunc("POST /api/tx", s.write(s.postTx))
	s.mux.HandleFunc("GET /api/tx/{txid}", s.getTx)
	s.mux.HandleFunc("GET /api/mempool", s.mempool)
	s.mux.HandleFunc("GET /api/stratum", s.getStratum)
	s.mux.HandleFunc("GET /api/accounts/{addr}", s.account)
	s.mux.HandleFunc("POST /api/words", s.write(s.words))
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "no such endpoint")
	})
	s.handler = httpguard.Guard(s.mux, cfg.Hosts, func(w http.ResponseWriter, status int, msg string) {
		writeError(w, status, codeForbidden, msg)
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// write guards a handler that changes the node: the request must carry the
// token, and a body must be JSON, which no HTML form can send. The node's
// own page only reads, so it needs neither.
func (s *Server) write(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if s.cfg.Token == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hashforge"`)
			writeError(w, http.StatusUnauthorized, codeUnauthorized,
				"this endpoint needs the node's API token: Authorization: Bearer <token>, the token being the node's --api-token or what its datadir's "+apiclient.CookieFile+" holds")
			return
		}
		// DELETE and the like carry no body to check.
		if r.ContentLength != 0 && !httpguard.IsJSON(r.Header.Get("Content-Type")) {
			writeError(w, http.StatusUnsupportedMediaType, codeNotJSON, "the body must be Content-Type: application/json")
			return
		}
		h(w, r)
	}
}

// ErrExposed refuses to serve a write API beyond loopback without a token.
var ErrExposed = errors.New("an HTTP address beyond loopback needs an API token")

// CheckExposure returns ErrExposed when addr (host:port) may be reached from
// other machines and token is empty: anyone could then spend the node's
// coins through POST /api/words or stop its miner.
func CheckExposure(addr, token string) error {
	if token != "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("http address %q: %w", addr, err)
	}
	if httpguard.Loopback(addr) {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrExposed, addr)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// Codes of errors that are the API's own; refused transactions carry the
// pool's and the chain's codes.
const (
	codeNotFound     = "not-found"
	codeMalformed    = "malformed"
	codeTooLarge     = "too-large"
	codeInternal     = "internal"
	codeUnauthorized = "unauthorized"
	codeNotJSON      = "unsupported-media-type"
	codeForbidden    = "forbidden" // a request from another web page
	codeConflict     = "conflict"
	codeBusy         = "busy"
)

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiclient.ErrorBody{Error: msg, Code: code})
}

// decodeStrict reads a JSON object of at most limit bytes into v, refusing
// unknown fields and trailing data; on failure it has answered and returns
// false.
func decodeStrict(w http.ResponseWriter, r *http.Request, limit int64, v any, shape string) bool {
	body, ok := readBody(w, r, limit)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the object")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, codeMalformed, fmt.Sprintf("want %s: %v", shape, err))
		return false
	}
	return true
}
