package node

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/mempool"
	"github.com/hashforge/hashforge/miner"
	"github.com/hashforge/hashforge/p2p"
	"github.com/hashforge/hashforge/store"
)

var quiet = slog.New(slog.DiscardHandler)

// countingDevice is a real CPU device that counts how often the node opened
// and closed it, and notes a Close that came while a Search still ran.
type countingDevice struct {
	hasher.Device
	opens, closes, searches, running atomic.Int64
	closedBusy                       atomic.Bool
}

func newCountingDevice(t *testing.T) *countingDevice {
	t.Helper()
	devs, err := hasher.OpenAll(cpu.New(1))
	if err != nil {
		t.Fatal(err)
	}
	return &countingDevice{Device: devs[0]}
}

// open is a Config.OpenDevices that opens the device.
func (d *countingDevice) open() ([]hasher.Device, error) {
	d.opens.Add(1)
	return []hasher.Device{d}, nil
}

func (d *countingDevice) Search(w *hasher.Work, start, count uint32, hits []uint32) ([]uint32, error) {
	d.running.Add(1)
	defer d.running.Add(-1)
	d.searches.Add(1)
	return d.Device.Search(w, start, count, hits)
}

func (d *countingDevice) Close() error {
	if d.running.Load() > 0 {
		d.closedBusy.Store(true)
	}
	d.closes.Add(1)
	return nil
}

// checkClosed fails unless the node closed every device it opened, once,
// with no Search running on it.
func (d *countingDevice) checkClosed(t *testing.T) {
	t.Helper()
	if opens, closes := d.opens.Load(), d.closes.Load(); closes != opens || opens > 1 {
		t.Errorf("device opened %d times, closed %d times: want as many closes as opens, at most one", opens, closes)
	}
	if d.closedBusy.Load() {
		t.Error("device closed while a Search ran on it")
	}
}

// config is a mining regtest node on a fresh datadir with the device, no
// peers and no HTTP server.
func config(t *testing.T, d *countingDevice) Config {
	return Config{
		Params:        chain.Regtest,
		DataDir:       t.TempDir(),
		Mine:          true,
		OpenDevices:   d.open,
		BlockInterval: 20 * time.Millisecond,
		P2P:           p2p.DefaultConfig(),
		Mempool:       mempool.DefaultConfig(),
	}
}

// listen holds a loopback port until the test ends.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// height is the chain height the node's API at addr reports, 0 while it
// does not answer.
func height(addr string) uint64 {
	resp, err := http.Get("http://" + addr + "/api/status")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var st struct{ Height uint64 }
	json.NewDecoder(resp.Body).Decode(&st)
	return st.Height
}

// A node that cannot start says why and closes the devices it opened, on
// every path out; a node refused before it opens them opens none.
func TestRunFailsAndClosesDevices(t *testing.T) {
	errOpen := errors.New("no GPU here")
	tests := []struct {
		name  string
		setup func(t *testing.T, cfg *Config)
		want  string // in Run's error
	}{
		{"HTTP beyond loopback without a token", func(t *testing.T, cfg *Config) {
			cfg.HTTPAddr = "0.0.0.0:0"
		}, "loopback"},
		{"devices fail to open", func(t *testing.T, cfg *Config) {
			cfg.OpenDevices = func() ([]hasher.Device, error) { return nil, errOpen }
		}, errOpen.Error()},
		{"mining without a device", func(t *testing.T, cfg *Config) {
			cfg.OpenDevices = nil
		}, "at least one hashing device"},
		{"datadir is a file", func(t *testing.T, cfg *Config) {
			cfg.DataDir = filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(cfg.DataDir, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "datadir"},
		{"datadir held by another node", func(t *testing.T, cfg *Config) {
			st, err := store.Open(cfg.DataDir, false)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
		}, store.ErrLocked.Error()},
		{"datadir of another network", func(t *testing.T, cfg *Config) {
			st, err := store.Open(cfg.DataDir, false)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := chain.New(chain.Devnet, st, quiet); err != nil {
				t.Fatal(err)
			}
		}, "wrong --network or --datadir"},
		{"chain.db lost beside the node key", func(t *testing.T, cfg *Config) {
			if err := os.WriteFile(filepath.Join(cfg.DataDir, KeyFile), []byte("00"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "missing, though node.key shows a node kept its chain here\nrun `miner reindex --network regtest"},
		{"chain.db damaged", func(t *testing.T, cfg *Config) {
			if err := os.WriteFile(filepath.Join(cfg.DataDir, store.FileName), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "is damaged: the file is empty"},
		{"bans file damaged", func(t *testing.T, cfg *Config) {
			if err := os.WriteFile(filepath.Join(cfg.DataDir, p2p.BanFileName), []byte("[{"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "remove it to start without the bans it held"},
		{"P2P port in use", func(t *testing.T, cfg *Config) {
			cfg.P2P.Listen = listen(t).Addr().String()
		}, "p2p"},
		{"HTTP port in use", func(t *testing.T, cfg *Config) {
			cfg.HTTPAddr = listen(t).Addr().String()
		}, "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newCountingDevice(t)
			cfg := config(t, d)
			tt.setup(t, &cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			err := Run(ctx, cfg, quiet)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run: %v; want an error mentioning %q", err, tt.want)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Run took %v to fail", took.Round(time.Millisecond))
			}
			d.checkClosed(t)
		})
	}
}

// A node starts, mines and serves its API, and when its context ends shuts
// down at once: devices closed after their last Search, the HTTP port and
// the datadir free for the next node.
func TestRunStartsAndShutsDown(t *testing.T) {
	d := newCountingDevice(t)
	cfg := config(t, d)
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close() // free for the node
	cfg.HTTPAddr = addr

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, quiet) }()

	deadline := time.Now().Add(15 * time.Second)
	for height(addr) < 2 {
		select {
		case err := <-done:
			t.Fatalf("Run returned at start-up: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no two blocks within 15 s")
		}
	}
	if d.searches.Load() == 0 {
		t.Error("the node mined without searching on its device")
	}
	cookie := filepath.Join(cfg.DataDir, apiclient.CookieFile)
	checkCookie(t, cookie, "http://"+addr)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after shutdown: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no shutdown within 2 s")
	}
	d.checkClosed(t)
	if d.closes.Load() != 1 {
		t.Errorf("device closed %d times, want 1", d.closes.Load())
	}
	if ln, err := net.Listen("tcp", addr); err != nil {
		t.Errorf("HTTP port still held after shutdown: %v", err)
	} else {
		ln.Close()
	}
	st, err := store.Open(cfg.DataDir, true)
	if err != nil {
		t.Fatalf("datadir after shutdown: %v", err)
	}
	st.Close()
	if _, err := os.Stat(cookie); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the API cookie after shutdown: %v, want it removed", err)
	}
}

// checkCookie checks the node's API cookie: the owner's alone, and what
// API writes need.
func checkCookie(t *testing.T, cookie, url string) {
	t.Helper()
	if fi, err := os.Stat(cookie); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("API cookie: %v, want a file of mode 0600", err)
	}
	for _, c := range []struct {
		client *apiclient.Client
		ok     bool
	}{{&apiclient.Client{URL: url, Cookie: cookie}, true}, {&apiclient.Client{URL: url}, false}} {
		_, err := c.client.SetMining(context.Background(), true)
		if (err == nil) != c.ok {
			t.Errorf("POST /api/mining with cookie %q: %v, want success %t", c.client.Cookie, err, c.ok)
		}
	}
}

// The mempool is the miner's TxSource: its answer for a parent that is no
// longer the tip must read as stale to the miner (a StaleParent method).
func TestPoolIsTxSource(t *testing.T) {
	ch, _ := chaintest.NewChain(t)
	var src miner.TxSource = mempool.New(ch, mempool.DefaultConfig(), quiet)
	tests := []struct {
		name   string
		parent chain.Hash
		stale  bool
	}{
		{"tip", ch.Tip().Hash, false},
		{"not the tip", chain.Hash{1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := src.Template(tt.parent, -1)
			var e interface{ StaleParent() bool }
			if stale := errors.As(err, &e) && e.StaleParent(); stale != tt.stale || (err != nil) != tt.stale {
				t.Errorf("Template: %v; want stale %t", err, tt.stale)
			}
		})
	}
}
