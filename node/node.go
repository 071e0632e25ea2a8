// Package node builds the parts of one node (store, chain, miner, HTTP) and
// runs them: start-up in dependency order, graceful shutdown in reverse.
package node

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashforge/hashforge/api"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/miner"
	"github.com/hashforge/hashforge/p2p"
	"github.com/hashforge/hashforge/store"
)

// Config describes one node.
type Config struct {
	Params  *chain.Params
	DataDir string

	Mine          bool
	Devices       []hasher.Device // opened hashing devices, when mining
	Address       *chain.Address  // coinbase address; nil uses the node's own key
	BlockInterval time.Duration

	HTTPAddr string // host:port of the HTTP server; empty for none

	P2P p2p.Config
}

// KeyFile holds the node's own ed25519 key inside its datadir: the seed as hex.
const KeyFile = "node.key"

// shutdownGrace bounds how long HTTP requests in flight may finish at shutdown.
const shutdownGrace = time.Second

// Run runs a node until ctx ends, then shuts it down.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	st, err := store.Open(cfg.DataDir, false)
	if err != nil {
		return err
	}
	defer st.Close()
	ch, err := chain.New(cfg.Params, st, log)
	if err != nil {
		return err
	}
	tip := ch.Tip()
	log.Info("chain loaded", "network", cfg.Params.Name, "datadir", cfg.DataDir, "height", tip.Height, "tip", tip.Hash)

	// Deferred calls run last first: cancel before wg.Wait, or an error
	// return after the miner started (an HTTP port in use) waits forever;
	// devices close after wg.Wait, once no lane searches on them.
	defer hasher.CloseAll(cfg.Devices)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var m *miner.Miner
	if cfg.Mine {
		if m, err = newMiner(cfg, ch, log); err != nil {
			return err
		}
		wg.Go(func() { m.Run(ctx) })
	}

	peers := p2p.New(cfg.P2P, ch, st, log)
	ln, err := peers.Listen()
	if err != nil {
		return err
	}
	wg.Go(func() { peers.Run(ctx, ln) })

	if cfg.HTTPAddr != "" {
		var apiMiner api.Miner
		if m != nil {
			apiMiner = m
		}
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("http: %w", err)
		}
		srv := &http.Server{Handler: api.New(ch, apiMiner, peers), ReadHeaderTimeout: 10 * time.Second}
		log.Info("http listening", "addr", "http://"+ln.Addr().String())
		wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server", "err", err)
			}
		})
		wg.Go(func() {
			<-ctx.Done()
			sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer scancel()
			srv.Shutdown(sctx)
		})
	}

	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

func newMiner(cfg Config, ch *chain.Chain, log *slog.Logger) (*miner.Miner, error) {
	addr := cfg.Address
	if addr == nil {
		key, err := LoadOrCreateKey(filepath.Join(cfg.DataDir, KeyFile))
		if err != nil {
			return nil, err
		}
		a := chain.AddressOf(key.Public().(ed25519.PublicKey))
		addr = &a
	}
	if len(cfg.Devices) == 0 {
		return nil, fmt.Errorf("mining needs at least one hashing device")
	}
	for _, d := range cfg.Devices {
		info := d.Info()
		attrs := []any{"device", info.ID(), "name", info.Name}
		if info.Threads > 0 {
			attrs = append(attrs, "threads", info.Threads)
		}
		log.Info("hashing device", attrs...)
	}
	log.Info("mining", "address", addr.String(), "block_interval", cfg.BlockInterval)
	sched := hasher.NewScheduler(cfg.Devices, log)
	return miner.New(ch, sched, miner.Config{Address: *addr, BlockInterval: cfg.BlockInterval}, log), nil
}

// LoadOrCreateKey reads an ed25519 key saved as a hex seed, creating the file
// (mode 0600) with a new key when it does not exist.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, key, err := ed25519.GenerateKey(nil)
		if err != nil {
			return nil, err
		}
		// Write a synced temporary file and rename it into place: a crash
		// mid-write must not leave an empty key file that fails every later start.
		seed := hex.EncodeToString(key.Seed()) + "\n"
		tmp := path + ".tmp"
		if err := writeFileSync(tmp, []byte(seed), 0o600); err != nil {
			return nil, fmt.Errorf("write key: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, fmt.Errorf("write key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("key file %s: want %d bytes of hex seed", path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// writeFileSync writes a file and flushes it to disk before returning.
func writeFileSync(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
