package api_test

import (
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/api"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/mempool"
	"github.com/hashforge/hashforge/miner"
	"github.com/hashforge/hashforge/p2p"
)

// node is a regtest node's parts behind a real HTTP server: chain, pool,
// peer layer and an idle miner.
type node struct {
	*httptest.Server
	chain *chain.Chain
	pool  *mempool.Pool
}

// newServer serves a node whose own key is key.
func newServer(t *testing.T, key ed25519.PrivateKey) *node {
	t.Helper()
	ch, _ := chaintest.NewChain(t)
	log := slog.New(slog.DiscardHandler)
	pool := mempool.New(ch, mempool.DefaultConfig(), log)
	devs, _ := hasher.OpenAll(hasher.NewCPU(1))
	m := miner.New(ch, pool, hasher.NewScheduler(devs, log), miner.Config{}, log)
	srv := httptest.NewServer(api.New(api.Config{
		Chain: ch,
		Miner: m,
		Peers: p2p.New(p2p.DefaultConfig(), ch, pool, nil, log),
		Pool:  pool,
		Key:   key,
	}))
	t.Cleanup(srv.Close)
	return &node{Server: srv, chain: ch, pool: pool}
}

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

func TestStatus(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	code, ctype, body := get(t, srv.URL+"/api/status")
	if code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("status %d, content type %q", code, ctype)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"network":        "regtest",
		"height":         float64(0),
		"tip":            chain.Regtest.GenesisHash().String(),
		"mining":         false,
		"hashrate":       nil, // no window has filled
		"peers":          float64(0),
		"agreement":      nil, // no peers to agree with
		"peers_agreeing": float64(0),
	}
	for k, v := range want {
		if gv, ok := got[k]; !ok || gv != v {
			t.Errorf("%s = %v (present %v), want %v", k, gv, ok, v)
		}
	}
	// Alone at genesis, the node is as far as anyone it knows: not syncing.
	wantSync := map[string]any{"syncing": false, "height": float64(0), "best_known": float64(0), "blocks_per_second": float64(0)}
	sync, _ := got["sync"].(map[string]any)
	for k, v := range wantSync {
		if sync[k] != v {
			t.Errorf("sync.%s = %v, want %v (sync = %v)", k, sync[k], v, got["sync"])
		}
	}
}

func TestMetrics(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	code, _, body := get(t, srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	for _, line := range []string{
		`miner_hashes_total{backend="cpu",device="cpu0"} 0`,
		`miner_device_errors_total{backend="cpu",device="cpu0"} 0`,
		"miner_blocks_mined_total 0",
		"miner_chain_height 0",
		"# TYPE miner_hashes_total counter",
		"go_goroutines",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("metrics lack %q", line)
		}
	}
}

func TestUnknownEndpoint(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	code, ctype, body := get(t, srv.URL+"/api/nope")
	if code != http.StatusNotFound || ctype != "application/json" || !strings.Contains(body, `"error"`) {
		t.Fatalf("got %d %q %s, want a 404 JSON error", code, ctype, body)
	}
}
