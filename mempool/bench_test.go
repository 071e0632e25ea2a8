package mempool

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// fundedSenders returns a pool whose chain has paid n new keys 100 coins each.
func fundedSenders(b *testing.B, n int) (*harness, []ed25519.PrivateKey) {
	cfg := DefaultConfig()
	cfg.MaxBytes = 1 << 30 // the benchmarks measure admission, not eviction
	h := newHarness(b, cfg)
	keys := make([]ed25519.PrivateKey, n)
	for i := range keys {
		seed := sha256.Sum256(fmt.Appendf(nil, "sender %d", i))
		keys[i] = ed25519.NewKeyFromSeed(seed[:])
	}
	h.fund(keys...)
	return h, keys
}

// signed returns n transfers spread over keys, each key's nonces in order.
func signed(keys []ed25519.PrivateKey, n int) []*chain.Tx {
	txs := make([]*chain.Tx, n)
	for i := range txs {
		txs[i] = pay(keys[i%len(keys)], carol, 1000, 1+uint64(i%7), uint64(i/len(keys)))
	}
	return txs
}

// BenchmarkAdd admits signed transfers from 1,000 senders, signature checks
// included. Run with -cpu 1 for the one-core figure.
func BenchmarkAdd(b *testing.B) {
	h, keys := fundedSenders(b, 1000)
	txs := signed(keys, b.N)
	b.ResetTimer()
	start := time.Now()
	for _, tx := range txs {
		if err := h.pool.Add(tx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tx/s")
}

// BenchmarkTemplate builds a full block's worth of transactions from a pool
// of 10,000 pending transfers of 1,000 senders.
func BenchmarkTemplate(b *testing.B) {
	h, keys := fundedSenders(b, 1000)
	for _, tx := range signed(keys, 10_000) {
		if err := h.pool.Add(tx); err != nil {
			b.Fatal(err)
		}
	}
	tip := h.last.Hash()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		txs, _, err := h.pool.Template(tip, chain.MaxBlockSize-1000)
		if err != nil || len(txs) == 0 {
			b.Fatal(len(txs), err)
		}
	}
	b.ReportMetric(time.Since(start).Seconds()*1000/float64(b.N), "ms/template")
}
