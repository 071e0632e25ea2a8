package miner_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/miner"
	"github.com/hashforge/hashforge/store"
)

// A paced regtest miner on a real chain mines blocks paying its address, no
// faster than its block interval, and every block passes Verify.
func TestMinerMinesPacedBlocks(t *testing.T) {
	st, err := store.Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	ch, err := chain.New(chain.Regtest, st, log)
	if err != nil {
		t.Fatal(err)
	}
	devs, _ := hasher.NewCPU(1).Devices()
	addr := chain.Address{1, 2, 3}
	const interval = 100 * time.Millisecond
	m := miner.New(ch, hasher.NewScheduler(devs, log), miner.Config{Address: addr, BlockInterval: interval}, log)

	tips, cancel := ch.Subscribe()
	defer cancel()
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	done := make(chan struct{})
	start := time.Now()
	go func() { m.Run(ctx); close(done) }()

	const blocks = 5
	for height := uint64(0); height < blocks; {
		select {
		case tip := <-tips:
			height = tip.Height
		case <-ctx.Done():
			t.Fatalf("mined %d blocks before the deadline, want %d", height, blocks)
		}
	}
	elapsed := time.Since(start)
	stop()
	<-done
	if m.Mining() {
		t.Error("miner reports mining after Run returned")
	}

	// The first block may come at once; each later one waits the interval.
	if min := (blocks - 1) * interval; elapsed < min {
		t.Errorf("%d blocks in %v: pacing allows no less than %v", blocks, elapsed, min)
	}
	height := ch.Tip().Height
	if found := m.BlocksFound(); found != height {
		t.Errorf("BlocksFound = %d, chain height %d", found, height)
	}
	acc, err := st.Account(addr)
	if err != nil {
		t.Fatal(err)
	}
	if want := height * chain.Regtest.Subsidy; acc.Balance != want {
		t.Errorf("miner balance %d, want %d for %d blocks", acc.Balance, want, height)
	}
	if _, err := chain.Verify(context.Background(), chain.Regtest, st, nil); err != nil {
		t.Fatalf("verify mined chain: %v", err)
	}
	if hashes := m.Devices()[0].Hashes; hashes == 0 {
		t.Error("device counted no hashes")
	}
}
