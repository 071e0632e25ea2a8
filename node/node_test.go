package node

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/mempool"
	"github.com/hashforge/hashforge/miner"
)

// The miner knows a stale parent by its own error: the pool's must reach it
// as that.
func TestPoolSourceStaleParent(t *testing.T) {
	ch, _ := chaintest.NewChain(t)
	src := poolSource{mempool.New(ch, mempool.DefaultConfig(), slog.New(slog.DiscardHandler))}
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
			if stale := errors.Is(err, miner.ErrStaleParent); stale != tt.stale || (err != nil) != tt.stale {
				t.Errorf("Template: %v; want stale %t", err, tt.stale)
			}
		})
	}
}
