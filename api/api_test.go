package api_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/hashforge/hashforge/api"
	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/internal/httpguard"
	"github.com/hashforge/hashforge/mempool"
	"github.com/hashforge/hashforge/miner"
	"github.com/hashforge/hashforge/p2p"
	"github.com/hashforge/hashforge/wallet"
)

// node is a regtest node's parts behind a real HTTP server: chain, pool,
// peer layer and a miner that waits, idle, until asked to mine.
type node struct {
	*httptest.Server
	chain *chain.Chain
	pool  *mempool.Pool
	miner *miner.Miner
	peers *p2p.Server
	store *chaintest.FaultyStore // a real store, until a test makes its writes fail
}

var quiet = slog.New(slog.DiscardHandler)

// testToken guards the writes of every node the tests serve.
const testToken = "s3cret"

// newServer serves a node whose own key is key.
func newServer(t testing.TB, key ed25519.PrivateKey) *node {
	t.Helper()
	devs, _ := hasher.OpenAll(cpu.New(2))
	return newServerOn(t, hasher.NewScheduler(devs, quiet), key)
}

// newServerOn is newServer with the miner hashing on sched; opts change
// the API's configuration before it is served.
func newServerOn(t testing.TB, sched *hasher.Scheduler, key ed25519.PrivateKey, opts ...func(*api.Config)) *node {
	t.Helper()
	ch, st := chaintest.NewFaultyChain(t)
	pool := mempool.New(ch, mempool.DefaultConfig(), quiet)
	m := miner.New(ch, pool, sched, miner.Config{Address: chain.Address{7}, Idle: true}, quiet)
	peers := p2p.New(p2p.DefaultConfig(), ch, pool, nil, quiet)
	cfg := api.Config{Chain: ch, Miner: m, Peers: peers, Pool: pool, Signer: wallet.NewSigner(key, chain.Regtest),
		Version: "v0.0.0-test", Token: testToken, Hosts: httpguard.NewHosts("127.0.0.1")}
	for _, opt := range opts {
		opt(&cfg)
	}
	srv := httptest.NewServer(api.New(cfg))
	t.Cleanup(srv.Close)
	return &node{Server: srv, chain: ch, pool: pool, miner: m, peers: peers, store: st}
}

// run runs the node's miner and peer layer until the test ends.
func (n *node) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { n.miner.Run(ctx); done <- struct{}{} }()
	go func() { n.peers.Run(ctx, nil); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
}

// extend mines blocks on the node's tip and hands them to its chain.
func (n *node) extend(t testing.TB, blocks int) []*chain.Block {
	t.Helper()
	var out []*chain.Block
	for range blocks {
		var parent *chain.Block
		n.chain.View(func(v *chain.View) (err error) {
			parent, err = v.Block(v.Tip().Hash)
			return err
		})
		b := chaintest.Mine(t, parent, chain.Address{byte(len(out))})
		if err := n.chain.ProcessBlock(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// request makes a request with headers given as name, value pairs, Host
// among them, and returns the answer with its body read.
func request(t testing.TB, method, url, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, body := request(t, http.MethodGet, url, "")
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// getJSON reads a JSON answer into out, failing unless it is 200.
func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	code, ctype, body := get(t, url)
	if code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("GET %s: %d %q %s", url, code, ctype, body)
	}
	if err := json.Unmarshal([]byte(body), out); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

func TestStatus(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	var got map[string]any
	getJSON(t, srv.URL+"/api/status", &got)
	// The device is the CPU on the path the backend picks for this machine.
	cpus, _ := cpu.New(1).List()
	cpuInfo := cpus[0]
	nulls := map[string]any{"10s": nil, "60s": nil, "15m": nil} // no window has filled
	want := map[string]any{
		"node_id":        chain.FaucetAddress().String(),
		"version":        "v0.0.0-test",
		"network":        "regtest",
		"height":         float64(0),
		"tip":            chain.Regtest.GenesisHash().String(),
		"tip_time":       float64(chain.Regtest.Genesis.Header.Timestamp),
		"difficulty":     chain.Difficulty(chain.Regtest.Genesis.Header.Bits),
		"work":           "2",
		"mining":         false,
		"threads":        float64(2),
		"hashrate":       nulls,
		"peers":          float64(0),
		"agreement":      nil, // no peers to agree with
		"peers_agreeing": float64(0),
		"mempool":        map[string]any{"count": float64(0), "bytes": float64(0)},
		// Alone at genesis, the node is as far as anyone it knows: not syncing.
		"sync": map[string]any{"syncing": false, "height": float64(0), "best_known": float64(0), "blocks_per_second": float64(0)},
		"devices": []any{map[string]any{"id": "cpu0", "backend": "cpu", "name": cpuInfo.Name, "impl": cpuInfo.Impl,
			"hashes": float64(0), "errors": float64(0), "stopped": false, "paused": false, "hashrate": nulls,
			"health": nil}}, // a CPU has no NVML readings
	}
	for k, v := range want {
		if gv, ok := got[k]; !ok || fmt.Sprint(gv) != fmt.Sprint(v) {
			t.Errorf("%s = %v (present %v), want %v", k, gv, ok, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("status has %d fields, the test knows %d: %v", len(got), len(want), got)
	}
}

// TestMetrics checks every metric family of the node is served, and that
// they pass the checks `promtool check metrics` runs.
func TestMetrics(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	srv.extend(t, 2)
	code, _, body := get(t, srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	for _, line := range []string{
		`miner_info{network="regtest",version="v0.0.0-test"} 1`,
		"miner_mining 0",
		`miner_hashes_total{backend="cpu",device="cpu0"} 0`,
		`miner_device_errors_total{backend="cpu",device="cpu0"} 0`,
		"miner_blocks_mined_total 0",
		"miner_chain_height 2",
		"miner_chain_work_hashes 6",
		"miner_chain_difficulty 4.6565423739069247e-10",
		"miner_chain_tip_timestamp_seconds ",
		"miner_chain_reorgs_total 0",
		"miner_block_validation_duration_seconds_count 2",
		`miner_block_validation_duration_seconds_bucket{le="+Inf"} 2`,
		`miner_peers{direction="inbound"} 0`,
		`miner_peers{direction="outbound"} 0`,
		`miner_p2p_messages_total{command="block",direction="received"} 0`,
		`miner_p2p_bytes_total{command="version",direction="sent"} 0`,
		"miner_p2p_bans_total 0",
		"miner_mempool_transactions 0",
		"miner_mempool_bytes 0",
		"# TYPE miner_hashes_total counter",
		"# TYPE miner_block_validation_duration_seconds histogram",
		"go_goroutines",
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("metrics lack %q", line)
		}
	}
	if strings.Contains(body, "miner_device_temperature_celsius{") {
		t.Errorf("a CPU device has GPU health series")
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// gauged is a CPU device that reports fixed GPU health readings, as a
// CUDA device reads them from NVML: the exposition's names, labels and
// units are what is under test (bench/RESULTS.md has an H200's own).
type gauged struct {
	hasher.Device
	health hasher.Health
}

func (d gauged) Health() (hasher.Health, error) { return d.health, nil }

func TestMetricsHealth(t *testing.T) {
	devs, err := hasher.OpenAll(cpu.New(1))
	if err != nil {
		t.Fatal(err)
	}
	reading := func(v float64) *float64 { return &v }
	withFan := gauged{devs[0], hasher.Health{TemperatureC: reading(51), PowerW: reading(395.119),
		FanPercent: reading(40), SMClockMHz: reading(1980), MemoryClockMHz: reading(3201)}}
	srv := newServerOn(t, hasher.NewScheduler([]hasher.Device{withFan}, quiet), chain.FaucetKey())
	_, _, body := get(t, srv.URL+"/metrics")
	for _, line := range []string{
		`miner_device_temperature_celsius{backend="cpu",device="cpu0"} 51`,
		`miner_device_power_watts{backend="cpu",device="cpu0"} 395.119`,
		`miner_device_fan_speed_ratio{backend="cpu",device="cpu0"} 0.4`,
		`miner_device_clock_hertz{backend="cpu",clock="sm",device="cpu0"} 1.98e+09`,
		`miner_device_clock_hertz{backend="cpu",clock="memory",device="cpu0"} 3.201e+09`,
		`miner_device_paused{backend="cpu",device="cpu0"} 0`,
	} {
		if !strings.Contains(body, line) {
			t.Errorf("metrics lack %q", line)
		}
	}

	// A card without a fan sensor (the H200) has no fan series; a device
	// without health (TestMetrics' CPU) has none of these series at all.
	fanless := withFan
	fanless.health.FanPercent = nil
	srv = newServerOn(t, hasher.NewScheduler([]hasher.Device{fanless}, quiet), chain.FaucetKey())
	if _, _, body := get(t, srv.URL+"/metrics"); strings.Contains(body, "miner_device_fan_speed_ratio{") ||
		!strings.Contains(body, "miner_device_temperature_celsius{") {
		t.Errorf("fanless card's metrics:\n%s", body)
	}
}

func TestUnknownEndpoint(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	code, ctype, body := get(t, srv.URL+"/api/nope")
	if code != http.StatusNotFound || ctype != "application/json" || !strings.Contains(body, `"error"`) {
		t.Fatalf("got %d %q %s, want a 404 JSON error", code, ctype, body)
	}
}

// blockPage is the JSON of a block list, as a client reads it.
type blockPage struct {
	Blocks []struct {
		Height  uint64 `json:"height"`
		Hash    string `json:"hash"`
		TxCount int    `json:"tx_count"`
		Miner   string `json:"miner"`
		Reward  uint64 `json:"reward"`
	} `json:"blocks"`
	Next *uint64 `json:"next"`
}

func (p blockPage) heights() []uint64 {
	var hs []uint64
	for _, b := range p.Blocks {
		hs = append(hs, b.Height)
	}
	return hs
}

// TestBlockLists pages the chain both ways and checks what each page says
// of its blocks.
func TestBlockLists(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	mined := srv.extend(t, 5) // heights 1..5
	next := func(n uint64) *uint64 { return &n }
	for _, tt := range []struct {
		query   string
		heights []uint64
		next    *uint64
	}{
		{"/api/blocks", []uint64{5, 4, 3, 2, 1, 0}, nil},
		{"/api/blocks?limit=2", []uint64{5, 4}, next(3)},
		{"/api/blocks?from=3&limit=2", []uint64{3, 2}, next(1)},
		{"/api/blocks?from=1&limit=5", []uint64{1, 0}, nil},
		{"/api/blocks?from=99&limit=1", []uint64{5}, next(4)}, // from above the tip starts at the tip
		{"/api/chain", []uint64{0, 1, 2, 3, 4, 5}, nil},
		{"/api/chain?limit=4", []uint64{0, 1, 2, 3}, next(4)},
		{"/api/chain?from=4&limit=4", []uint64{4, 5}, nil},
		{"/api/chain?from=6", nil, nil},
	} {
		var page blockPage
		getJSON(t, srv.URL+tt.query, &page)
		if fmt.Sprint(page.heights()) != fmt.Sprint(tt.heights) || deref(page.Next) != deref(tt.next) {
			t.Errorf("GET %s: heights %v next %v, want %v next %v", tt.query, page.heights(), deref(page.Next), tt.heights, deref(tt.next))
		}
	}
	var page blockPage
	getJSON(t, srv.URL+"/api/blocks?limit=1", &page)
	top := page.Blocks[0]
	cb := mined[4].Txs[0]
	if top.Hash != mined[4].Hash().String() || top.TxCount != 1 || top.Miner != cb.To.String() || top.Reward != cb.Amount {
		t.Errorf("tip summary %+v, want block %s paying %d to %s", top, mined[4].Hash(), cb.Amount, cb.To)
	}
}

func deref(p *uint64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestBlock reads single blocks by height, hash and "latest", on and off the
// main chain, and the errors of ids that name none.
func TestBlock(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	mined := srv.extend(t, 3)
	// A side block at height 1, known but off the main chain.
	side := chaintest.Mine(t, chain.Regtest.Genesis, chain.Address{0xee})
	if err := srv.chain.ProcessBlock(context.Background(), side); err != nil {
		t.Fatal(err)
	}
	type detail struct {
		Height        uint64      `json:"height"`
		Hash          string      `json:"hash"`
		Main          bool        `json:"main"`
		Confirmations uint64      `json:"confirmations"`
		MerkleRoot    string      `json:"merkle_root"`
		Txs           []*chain.Tx `json:"txs"`
	}
	for _, tt := range []struct {
		id    string
		block *chain.Block
		want  detail
	}{
		{"latest", mined[2], detail{Height: 3, Main: true, Confirmations: 1}},
		{"1", mined[0], detail{Height: 1, Main: true, Confirmations: 3}},
		{mined[1].Hash().String(), mined[1], detail{Height: 2, Main: true, Confirmations: 2}},
		{side.Hash().String(), side, detail{Height: 1}},
	} {
		var got detail
		getJSON(t, srv.URL+"/api/blocks/"+tt.id, &got)
		if got.Height != tt.want.Height || got.Main != tt.want.Main || got.Confirmations != tt.want.Confirmations ||
			got.Hash != tt.block.Hash().String() || got.MerkleRoot != tt.block.Header.MerkleRoot.String() ||
			len(got.Txs) != 1 || got.Txs[0].Hash() != tt.block.Txs[0].Hash() {
			t.Errorf("block %s: %+v", tt.id, got)
		}
	}
	for id, want := range map[string]int{
		"4":                      http.StatusNotFound,
		strings.Repeat("ab", 32): http.StatusNotFound,
		"xyz":                    http.StatusBadRequest,
		"-1":                     http.StatusBadRequest,
	} {
		code, ctype, body := get(t, srv.URL+"/api/blocks/"+id)
		if code != want || ctype != "application/json" || !strings.Contains(body, `"error"`) {
			t.Errorf("block %s: %d %q %s, want %d with a JSON error", id, code, ctype, body, want)
		}
	}
	for _, q := range []string{"/api/blocks?limit=0", "/api/blocks?limit=501", "/api/blocks?from=x", "/api/chain?limit=1001", "/api/chain?from=-1"} {
		if code, _, body := get(t, srv.URL+q); code != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("GET %s: %d %s, want 400", q, code, body)
		}
	}
}

// send makes a write as a tool does, with the node's token and a JSON
// body, and returns the status and the decoded JSON answer.
func send(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	return sendWith(t, url, body, "Authorization", "Bearer "+testToken, "Content-Type", "application/json")
}

// sendWith POSTs body with headers given as name, value pairs.
func sendWith(t *testing.T, url, body string, header ...string) (int, map[string]any) {
	t.Helper()
	resp, b := request(t, http.MethodPost, url, body, header...)
	return resp.StatusCode, decodeObject(t, resp, b)
}

// writes are every endpoint that changes the node, with a body each accepts.
var writes = []struct{ path, body string }{
	{"/api/tx", "{}"},
	{"/api/words", `{"text":"hi"}`},
	{"/api/peers", `{"addr":"127.0.0.1:1"}`},
	{"/api/bans", `{"addr":"192.0.2.1"}`},
	{"/api/mining", `{"threads":1}`},
}

// TestWritesNeedTokenAndJSON: every write without the token, or with
// another, is refused with 401, and one with the token but a body that is
// not JSON (what a form or a page's text/plain POST sends) with 415, before
// the body is looked at: nothing changes.
func TestWritesNeedTokenAndJSON(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	const json = "application/json"
	tests := []struct {
		name, token, ctype string
		want               int
	}{
		{"no token", "", json, http.StatusUnauthorized},
		{"another token", "wrong", json, http.StatusUnauthorized},
		{"the token and more", testToken + "x", json, http.StatusUnauthorized},
		{"no token, text/plain", "", "text/plain", http.StatusUnauthorized},
		{"text/plain", testToken, "text/plain", http.StatusUnsupportedMediaType},
		{"a form", testToken, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"no content type", testToken, "", http.StatusUnsupportedMediaType},
		{"JSON with a charset", testToken, "application/json; charset=utf-8", 0},
		{"JSON", testToken, json, 0},
	}
	for _, w := range writes {
		for _, tt := range tests {
			header := []string{"Content-Type", tt.ctype}
			if tt.token != "" {
				header = append(header, "Authorization", "Bearer "+tt.token)
			}
			pending, threads := srv.pool.Stats().Count, srv.miner.Threads
			before, _ := threads()
			code, body := sendWith(t, srv.URL+w.path, w.body, header...)
			switch {
			case tt.want == 0 && (code == http.StatusUnauthorized || code == http.StatusUnsupportedMediaType):
				t.Errorf("POST %s, %s: %d %v, want it taken", w.path, tt.name, code, body)
			case tt.want != 0 && (code != tt.want || body["error"] == nil):
				t.Errorf("POST %s, %s: %d %v, want %d", w.path, tt.name, code, body, tt.want)
			}
			if tt.want == 0 {
				continue
			}
			if n := srv.pool.Stats().Count; n != pending {
				t.Errorf("POST %s, %s: %d transactions in the pool, want %d as before", w.path, tt.name, n, pending)
			}
			if after, _ := threads(); after != before {
				t.Errorf("POST %s, %s: %d threads, want %d as before", w.path, tt.name, after, before)
			}
		}
	}
	// Reads stay open.
	if code, _, _ := get(t, srv.URL+"/api/status"); code != http.StatusOK {
		t.Errorf("GET /api/status: %d", code)
	}
}

// TestWritesRefuseBadBodies: bad JSON is 400 and an oversized body 413, each
// a JSON error, on every write.
func TestWritesRefuseBadBodies(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	huge := `{"text":"` + strings.Repeat("x", 1<<20) + `"}`
	for _, w := range writes {
		for body, want := range map[string]int{
			`{"unclosed": `:        http.StatusBadRequest,
			`[1, 2]`:               http.StatusBadRequest,
			`{"nonsense": 1}`:      http.StatusBadRequest,
			w.body + `{"again":1}`: http.StatusBadRequest,
			huge:                   http.StatusRequestEntityTooLarge,
		} {
			if w.path == "/api/tx" && body == w.body+`{"again":1}` {
				continue // a transaction is one object; trailing data is its decoder's concern
			}
			code, got := send(t, srv.URL+w.path, body)
			if code != want || got["error"] == nil {
				t.Errorf("POST %s %.30q: %d %v, want %d with an error", w.path, body, code, got, want)
			}
		}
	}
}

func TestCheckExposure(t *testing.T) {
	for _, tt := range []struct {
		addr, token string
		exposed     bool
	}{
		{"127.0.0.1:8001", "", false},
		{"[::1]:8001", "", false},
		{"localhost:8001", "", false},
		{"0.0.0.0:8001", "", true},
		{"192.168.1.5:8001", "", true},
		{"[::]:8001", "", true},
		{":8001", "", true}, // every interface
		{"0.0.0.0:8001", "t", false},
	} {
		err := api.CheckExposure(tt.addr, tt.token)
		if exposed := err != nil; exposed != tt.exposed {
			t.Errorf("CheckExposure(%q, %q) = %v, want exposed %v", tt.addr, tt.token, err, tt.exposed)
		}
	}
}

// TestMiningControl starts an idle node's miner through the API, changes its
// threads, and stops it.
func TestMiningControl(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	srv.run(t)
	for _, tt := range []struct {
		body    string
		status  int
		mining  bool
		threads int
	}{
		{`{"threads": 1}`, http.StatusOK, false, 1},
		{`{"enabled": true}`, http.StatusOK, true, 1},
		{`{"threads": 3}`, http.StatusBadRequest, true, 1}, // the device has two lanes
		{`{"threads": 0}`, http.StatusBadRequest, true, 1},
		{`{}`, http.StatusBadRequest, true, 1},
		{`{"enabled": true, "threads": 2}`, http.StatusOK, true, 2},
	} {
		code, got := send(t, srv.URL+"/api/mining", tt.body)
		if code != tt.status {
			t.Errorf("POST %s: %d %v, want %d", tt.body, code, got, tt.status)
		}
		if srv.miner.Mining() != tt.mining {
			t.Errorf("after %s: mining %v, want %v", tt.body, srv.miner.Mining(), tt.mining)
		}
		if threads, _ := srv.miner.Threads(); threads != tt.threads {
			t.Errorf("after %s: %d threads, want %d", tt.body, threads, tt.threads)
		}
		if code == http.StatusOK && (got["mining"] != tt.mining || got["threads"] != float64(tt.threads)) {
			t.Errorf("POST %s answered %v", tt.body, got)
		}
	}
	// Mining for real: the chain grows.
	deadline := time.Now().Add(20 * time.Second)
	for srv.chain.Tip().Height < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if h := srv.chain.Tip().Height; h < 2 {
		t.Fatalf("height %d after mining was enabled", h)
	}
	if code, got := send(t, srv.URL+"/api/mining", `{"enabled": false}`); code != http.StatusOK || got["mining"] != false {
		t.Errorf("stop mining: %d %v", code, got)
	}
}

// A node on loopback is still reachable from every page the user's browser
// opens: another site's writes are refused even with the token, a write
// from the node's own page, which never writes, needs the token as a
// tool's does, and a DNS-rebinding page is refused on every route.
func TestOtherWebPagesRefused(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	tool := []string{"Authorization", "Bearer " + testToken, "Content-Type", "application/json"}
	type call struct {
		name, method, path string
		header             []string
		want               int
		code               string // the error's code
	}
	tests := []call{
		{"another site's POST", http.MethodPost, "/api/mining", append([]string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, tool...), http.StatusForbidden, "forbidden"},
		{"an old browser's cross-site POST", http.MethodPost, "/api/mining", append([]string{"Origin", "https://evil.example"}, tool...), http.StatusForbidden, "forbidden"},
		{"the node's own page", http.MethodPost, "/api/mining", []string{"Sec-Fetch-Site", "same-origin", "Origin", srv.URL, "Content-Type", "application/json"}, http.StatusUnauthorized, "unauthorized"},
		{"a tool", http.MethodPost, "/api/mining", tool, http.StatusOK, ""},
		{"a tool naming localhost", http.MethodPost, "/api/mining", append([]string{"Host", "localhost"}, tool...), http.StatusOK, ""},
	}
	for _, path := range []string{"/", "/app.js", "/metrics", "/api/status", "/api/events", "/api/blocks", "/api/blocks/latest",
		"/api/chain", "/api/peers", "/api/tx/" + strings.Repeat("00", 32), "/api/mempool", "/api/accounts/" + strings.Repeat("00", 20), "/api/nope"} {
		tests = append(tests, call{"a rebound name's GET " + path, http.MethodGet, path, []string{"Host", "evil.example:" + port}, http.StatusForbidden, "forbidden"})
	}
	for _, w := range writes {
		tests = append(tests, call{"a rebound name's POST " + w.path, http.MethodPost, w.path, append([]string{"Host", "evil.example"}, tool...), http.StatusForbidden, "forbidden"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := request(t, tt.method, srv.URL+tt.path, `{"enabled": false}`, tt.header...)
			var body apiclient.ErrorBody
			json.Unmarshal([]byte(b), &body)
			if resp.StatusCode != tt.want || body.Code != tt.code {
				t.Errorf("%d %s, want %d %q", resp.StatusCode, b, tt.want, tt.code)
			}
		})
	}
}

// sse reads Server-Sent Events.
type sse struct {
	t    *testing.T
	scan *bufio.Scanner
}

func openEvents(t *testing.T, url string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("events: %d %q", resp.StatusCode, ct)
	}
	return &sse{t: t, scan: bufio.NewScanner(resp.Body)}
}

// next returns the next event named one of names, skipping others, and its
// data decoded.
func (s *sse) next(names ...string) (string, map[string]any) {
	s.t.Helper()
	var event string
	for s.scan.Scan() {
		line := s.scan.Text()
		if name, ok := strings.CutPrefix(line, "event: "); ok {
			event = name
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || !contains(names, event) {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			s.t.Fatalf("event %s: %v in %s", event, err, data)
		}
		return event, v
	}
	s.t.Fatalf("event stream ended waiting for %v: %v", names, s.scan.Err())
	return "", nil
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// TestEvents follows the event stream: the status first, a tip event per
// block, a peer event when a peer joins through POST /api/peers, and
// hashrate ticks.
func TestEvents(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	srv.run(t)
	events := openEvents(t, srv.URL)
	if _, hello := events.next("hello"); hello["network"] != "regtest" || hello["height"] != 0.0 {
		t.Errorf("hello %v", hello)
	}

	b := srv.extend(t, 1)[0]
	if _, tip := events.next("tip"); tip["height"] != 1.0 || tip["hash"] != b.Hash().String() {
		t.Errorf("tip event %v, want block %s at 1", tip, b.Hash())
	}

	// Another peer layer on the same chain's network, listening.
	other, _ := chaintest.NewChain(t)
	cfg := p2p.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	remote := p2p.New(cfg, other, mempool.New(other, mempool.DefaultConfig(), quiet), nil, quiet)
	ln, err := remote.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { remote.Run(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if code, got := send(t, srv.URL+"/api/peers", `{"addr":"`+ln.Addr().String()+`"}`); code != http.StatusAccepted {
		t.Fatalf("POST /api/peers: %d %v", code, got)
	}
	if _, peer := events.next("peer"); peer["event"] != "joined" {
		t.Errorf("peer event %v, want joined", peer)
	}
	var peers []p2p.PeerInfo
	getJSON(t, srv.URL+"/api/peers", &peers)
	if len(peers) != 1 || peers[0].Direction != "outbound" {
		t.Errorf("peers %+v, want one outbound", peers)
	}
	cancel() // the remote stops
	if _, peer := events.next("peer"); peer["event"] != "left" {
		t.Errorf("peer event %v, want left", peer)
	}
	if _, tick := events.next("hashrate"); tick["devices"] == nil || tick["time"] == nil {
		t.Errorf("hashrate event %v", tick)
	}
}

// TestPostPeerRefusals: an address that is not host:port is 400.
func TestPostPeerRefusals(t *testing.T) {
	srv := newServer(t, chain.FaucetKey())
	for _, addr := range []string{"", "nohost", "127.0.0.1:notaport", "127.0.0.1:70000"} {
		code, got := send(t, srv.URL+"/api/peers", `{"addr":"`+addr+`"}`)
		if code != http.StatusBadRequest || got["error"] == nil {
			t.Errorf("POST /api/peers %q: %d %v, want 400", addr, code, got)
		}
	}
}
