package mempool

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// restart saves the pool to a file and loads it into a new pool on the same
// chain, as a node stopping and starting again does; between the two,
// between may change the chain or the clock. It returns what Load returned.
func (h *harness) restart(between func(p *Pool)) (restored, dropped int) {
	h.t.Helper()
	path := filepath.Join(h.t.TempDir(), FileName)
	if n, err := h.pool.Save(path); err != nil || n != h.pool.Stats().Count {
		h.t.Fatalf("Save: %d transactions, %v; want %d", n, err, h.pool.Stats().Count)
	}
	h.pool = New(h.chain, h.pool.cfg, slog.New(slog.DiscardHandler))
	if between != nil {
		between(h.pool)
	}
	return h.pool.Load(path)
}

// The pending transactions come back after a restart in the same order,
// each with the time it first arrived; those the chain confirmed meanwhile,
// or that expired, are dropped and counted, and so are those after them.
func TestSaveAndLoad(t *testing.T) {
	cfg := DefaultConfig()
	t0 := time.Now()
	tests := []struct {
		name    string
		between func(h *harness, p *Pool)
		kept    []int // of a0, a1, b0, in block order
	}{
		{"unchanged", nil, []int{0, 1, 2}},
		{"alice's first confirmed", func(h *harness, p *Pool) { h.mine(pay(alice, carol, 1, 1, 0)) }, []int{1, 2}},
		// Another nonce 0 leaves alice less than a1 costs: a0 and a1 go.
		{"alice's coins spent", func(h *harness, p *Pool) { h.mine(pay(alice, carol, 100*chain.Coin-300, 1, 0)) }, []int{2}},
		{"all expired", func(h *harness, p *Pool) { p.now = func() time.Time { return t0.Add(cfg.Expiry + time.Second) } }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			h.fund(alice, bob)
			h.pool.now = func() time.Time { return t0 }
			txs := []*chain.Tx{pay(alice, carol, 1, 3, 0), pay(alice, carol, 1, 3, 1), pay(bob, carol, 1, 2, 0)}
			for _, tx := range txs {
				h.add(tx)
			}
			restored, dropped := h.restart(func(p *Pool) {
				if tt.between != nil {
					tt.between(h, p)
				}
			})
			var want []*chain.Tx
			for _, i := range tt.kept {
				want = append(want, txs[i])
			}
			h.wantPending(want...)
			if restored != len(want) || dropped != len(txs)-len(want) {
				t.Errorf("Load: %d restored, %d dropped; want %d and %d", restored, dropped, len(want), len(txs)-len(want))
			}
			entries, _, _ := h.pool.Entries()
			for _, e := range entries {
				if !e.Added.Equal(t0) {
					t.Errorf("%s added at %v after the restart, want %v as first", e.Tx.Hash(), e.Added, t0)
				}
			}
		})
	}
}

// A missing, damaged, foreign or unreadable file leaves the pool empty and
// the node starting; the next save replaces it.
func TestLoadDamaged(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.fund(alice)
	h.add(pay(alice, carol, 1, 1, 0))
	good := encodeFile(chain.Regtest.Magic, must(h.pool.Entries()))
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 1
		return b
	}
	tests := map[string][]byte{
		"empty":          {},
		"truncated":      good[:len(good)-1],
		"a bit flipped":  flip(fileHeader + 20),
		"bad checksum":   flip(len(good) - 1),
		"devnet's":       encodeFile(chain.Devnet.Magic, must(h.pool.Entries())),
		"garbage":        []byte("not a mempool file at all"),
		"a folder":       nil, // a folder where the file should be
		"does not exist": nil,
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			switch name {
			case "a folder":
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
			case "does not exist":
			default:
				if err := os.WriteFile(path, raw, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			p := New(h.chain, DefaultConfig(), slog.New(slog.DiscardHandler))
			if restored, dropped := p.Load(path); restored != 0 || dropped != 0 || p.Stats().Count != 0 {
				t.Errorf("Load: %d restored, %d dropped, %d pending; want an empty pool", restored, dropped, p.Stats().Count)
			}
		})
	}
}

func must[T any](v T, _ Stats, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Persist writes the file every interval; a save replaces it whole.
func TestPersist(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.fund(alice)
	path := filepath.Join(t.TempDir(), FileName)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.pool.Persist(ctx, path, 10*time.Millisecond); close(done) }()
	defer cancel()

	saved := func() int {
		raw, err := os.ReadFile(path)
		if err != nil {
			return -1
		}
		entries, err := decodeFile(raw, chain.Regtest.Magic)
		if err != nil {
			t.Fatalf("a save left a damaged file: %v", err)
		}
		return len(entries)
	}
	for nonce := range uint64(3) {
		h.add(pay(alice, carol, 1, 1, nonce))
		for deadline := time.Now().Add(5 * time.Second); saved() != int(nonce)+1; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the file holds %d transactions 5 s after the pool had %d", saved(), nonce+1)
			}
		}
	}
	cancel()
	<-done
	if tmp, _ := filepath.Glob(path + ".*"); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}
