package miner_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/mempool"
	"github.com/hashforge/hashforge/miner"
)

// countingSource counts the selections a TxSource makes.
type countingSource struct {
	miner.TxSource
	calls int
}

func (s *countingSource) Template(parent chain.Hash, maxBytes int) ([]*chain.Tx, uint64, error) {
	s.calls++
	return s.TxSource.Template(parent, maxBytes)
}

// BlockTemplate builds on the tip, pays the subsidy and the fees of the
// pool's transactions to the address asked for, and solved it is a block the
// chain accepts; templates for other addresses on the same parent share one
// selection of the pool, and a new tip makes a new one.
func TestBlockTemplate(t *testing.T) {
	ch, st := chaintest.NewChain(t)
	pool := mempool.New(ch, mempool.DefaultConfig(), slog.New(slog.DiscardHandler))
	_, bob := chaintest.NewKey("bob")
	tx := chaintest.Transfer(chain.FaucetKey(), bob, chain.Coin, 5000, 0, nil)
	if err := pool.Add(tx); err != nil {
		t.Fatal(err)
	}
	src := &countingSource{TxSource: pool}
	m := miner.NewTemplates(ch, src, slog.New(slog.DiscardHandler))
	ctx := context.Background()

	var blocks []*chain.Block
	for _, payTo := range []chain.Address{{7}, {8}, {9}} {
		b, err := m.BlockTemplate(ctx, payTo)
		if err != nil {
			t.Fatal(err)
		}
		next := ch.NextBlock()
		if b.Header.PrevBlock != next.Parent || b.Header.Bits != next.Bits || b.Header.Timestamp < next.MinTime {
			t.Errorf("header %+v does not fit the tip's next block %+v", b.Header, next)
		}
		if len(b.Txs) != 2 || b.Txs[1].Hash() != tx.Hash() {
			t.Fatalf("template has %d transactions, want the coinbase and the pool's transfer", len(b.Txs))
		}
		cb := b.Txs[0]
		if cb.To != payTo || cb.Amount != next.Subsidy+tx.Fee || cb.ExtraNonce != 0 || cb.Height != next.Height {
			t.Errorf("coinbase %+v, want height %d paying %d to %s with extranonce 0", cb, next.Height, next.Subsidy+tx.Fee, payTo)
		}
		if b.Header.MerkleRoot != chain.MerkleRoot(b.TxHashes()) {
			t.Error("header does not commit to the transactions")
		}
		blocks = append(blocks, b)
	}
	if src.calls != 1 {
		t.Errorf("three templates on one parent made %d pool selections, want 1", src.calls)
	}

	if err := ch.ProcessBlock(ctx, chaintest.Solve(t, blocks[1])); err != nil {
		t.Fatalf("solved template refused: %v", err)
	}
	if acc, _ := st.Account(chain.Address{8}); acc.Balance != chain.Regtest.Subsidy+tx.Fee {
		t.Errorf("payee has %d units, want subsidy plus fee", acc.Balance)
	}
	b, err := m.BlockTemplate(ctx, chain.Address{7})
	if err != nil {
		t.Fatal(err)
	}
	if b.Header.PrevBlock != ch.Tip().Hash || len(b.Txs) != 1 || src.calls != 2 {
		t.Errorf("after a new tip: parent %s (tip %s), %d transactions, %d selections; want the tip, the coinbase alone, 2",
			b.Header.PrevBlock, ch.Tip().Hash, len(b.Txs), src.calls)
	}
}
