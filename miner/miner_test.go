package miner_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/hasher/hashertest"
	"github.com/hashforge/hashforge/mempool"
	"github.com/hashforge/hashforge/miner"
)

// newMiner returns a one-lane CPU miner taking transactions from txs, which
// may be nil.
func newMiner(ch *chain.Chain, txs miner.TxSource, cfg miner.Config) *miner.Miner {
	return newLoggingMiner(ch, txs, cfg, slog.New(slog.DiscardHandler))
}

// newLoggingMiner is newMiner logging to log.
func newLoggingMiner(ch *chain.Chain, txs miner.TxSource, cfg miner.Config, log *slog.Logger) *miner.Miner {
	devs, _ := hasher.OpenAll(cpu.New(1))
	return miner.New(ch, txs, hasher.NewScheduler(devs, log), cfg, log)
}

// A paced regtest miner on a real chain mines blocks paying its address, no
// faster than its block interval, and every block passes Verify.
func TestMinerMinesPacedBlocks(t *testing.T) {
	ch, st := chaintest.NewChain(t)
	addr := chain.Address{1, 2, 3}
	const interval = 100 * time.Millisecond
	m := newMiner(ch, nil, miner.Config{Address: addr, BlockInterval: interval})

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

// staleOnce answers its first template with ErrStaleParent, as a pool does
// when a block arrived after the miner read the tip.
type staleOnce struct {
	miner.TxSource
	answered bool
}

func (s *staleOnce) Template(parent chain.Hash, maxBytes int) ([]*chain.Tx, uint64, error) {
	if !s.answered {
		s.answered = true
		return nil, 0, fmt.Errorf("%w: a test's", miner.ErrStaleParent)
	}
	return s.TxSource.Template(parent, maxBytes)
}

// Transfers waiting in the pool go into the next block, and the coinbase
// collects their fees; a stale parent makes the miner ask again rather than
// mine an empty block.
func TestMinerMinesPoolTransactions(t *testing.T) {
	tests := []struct {
		name   string
		source func(*mempool.Pool) miner.TxSource
	}{
		{"pool", func(p *mempool.Pool) miner.TxSource { return p }},
		{"stale parent first", func(p *mempool.Pool) miner.TxSource { return &staleOnce{TxSource: p} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { minePoolTransactions(t, tt.source) })
	}
}

func minePoolTransactions(t *testing.T, source func(*mempool.Pool) miner.TxSource) {
	ch, st := chaintest.NewChain(t)
	log := slog.New(slog.DiscardHandler)
	pool := mempool.New(ch, mempool.DefaultConfig(), log)
	faucet := chain.FaucetKey()
	_, bob := chaintest.NewKey("bob")
	var txs []*chain.Tx
	var fees uint64
	for nonce := range uint64(3) {
		tx := &chain.Tx{Kind: chain.TxTransfer, To: bob, Amount: chain.Coin, Fee: 1000 + nonce, Nonce: nonce, Memo: []byte("words")}
		tx.Sign(faucet, chain.Regtest.Magic)
		if err := pool.Add(tx); err != nil {
			t.Fatal(err)
		}
		txs, fees = append(txs, tx), fees+tx.Fee
	}

	addr := chain.Address{7}
	m := newMiner(ch, source(pool), miner.Config{Address: addr})
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	tips, cancel := ch.Subscribe()
	defer cancel()
	select {
	case <-tips:
	case <-ctx.Done():
		t.Fatal("no block mined")
	}
	stop()
	<-done

	for _, tx := range txs {
		if _, loc, ok, err := ch.Transaction(tx.Hash()); !ok || err != nil || loc.Height != 1 {
			t.Errorf("transfer nonce %d at %+v (found %t, %v), want height 1", tx.Nonce, loc, ok, err)
		}
	}
	if acc, _ := st.Account(bob); acc.Balance != 3*chain.Coin {
		t.Errorf("bob has %d units, want 3 coins", acc.Balance)
	}
	height := ch.Tip().Height
	if acc, _ := st.Account(addr); acc.Balance != height*chain.Regtest.Subsidy+fees {
		t.Errorf("miner has %d units after %d blocks, want subsidies plus fees %d", acc.Balance, height, fees)
	}
	if _, err := chain.Verify(context.Background(), chain.Regtest, st, nil); err != nil {
		t.Fatalf("verify mined chain: %v", err)
	}
}

// Blocks faster than one a second push the earliest valid timestamp ahead of
// the clock. Once it passes the network's future limit no block can be valid
// until the clock moves, so an unpaced miner must wait, not spin on blocks the
// chain rejects: in steady state it mines about six blocks per clock second
// (the median time past advances one second per six blocks) and hashes little.
func TestMinerWaitsWhenAheadOfClock(t *testing.T) {
	ch, _ := chaintest.NewChain(t)
	// Eleven blocks stamped up to the future limit.
	limit := uint32(time.Now().Add(chain.Regtest.MaxFutureTime).Unix()) - 1
	for i := range uint32(11) {
		next := ch.NextBlock()
		cb := chain.NewCoinbase(next.Height, chain.Address{}, next.Subsidy, 0)
		b := &chain.Block{Header: chain.Header{Version: 1, PrevBlock: next.Parent,
			MerkleRoot: chain.MerkleRoot([]chain.Hash{cb.Hash()}), Timestamp: limit - 10 + i, Bits: next.Bits}, Txs: []*chain.Tx{cb}}
		for chain.HashToBig(b.Hash()).Cmp(chain.CompactToBig(next.Bits)) > 0 {
			b.Header.Nonce++
		}
		if err := ch.ProcessBlock(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	m := newMiner(ch, nil, miner.Config{})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()

	// Let the miner use up the few seconds of room left, then watch it.
	time.Sleep(time.Second)
	hashes, found := m.Devices()[0].Hashes, m.BlocksFound()
	time.Sleep(2 * time.Second)
	hashes, found = m.Devices()[0].Hashes-hashes, m.BlocksFound()-found
	t.Logf("in 2 s at the limit: %d blocks, %d hashes", found, hashes)
	if found > 20 {
		t.Errorf("%d blocks in 2 s at the future limit: the timestamps cannot allow more than about 12", found)
	}
	// A spinning miner hashes millions of times a second.
	if hashes > 1_000_000 {
		t.Errorf("%d hashes in 2 s while blocks wait for the clock", hashes)
	}
	if tip := ch.Tip(); tip.Header.Timestamp > uint32(time.Now().Add(chain.Regtest.MaxFutureTime).Unix()) {
		t.Errorf("tip time %d is beyond the future limit", tip.Header.Timestamp)
	}
}

// withholdDevice is a real device that drops its hits, so the miner hashes
// one tip's work until a block comes from elsewhere.
type withholdDevice struct{ hasher.Device }

func (d withholdDevice) Search(w *hasher.Work, start, count uint32, hits []uint32) ([]uint32, error) {
	_, err := d.Device.Search(w, start, count, nil)
	return hits, err
}

// A new tip from elsewhere (a peer's block, through ProcessBlock like any
// block) must stop hashing on the old tip within 10 ms. Every Search is
// timed from start to end (hashertest.TimedDevice) and named by the parent
// block of its header, so a range on the old tip still running at the check
// fails the test instead of going unseen.
func TestNewTipStopsStaleWork(t *testing.T) {
	ch, _ := chaintest.NewChain(t)
	log := slog.New(slog.DiscardHandler)
	devs, _ := hasher.OpenAll(cpu.New(hashertest.TimingLanes()))
	// The miner rolls its headers (extranonce, timestamp); the parent they
	// build on names the work.
	dev := hashertest.NewTimedDevice(devs[0], func(w *hasher.Work) chain.Hash {
		var parent chain.Hash
		copy(parent[:], w.Header[4:36])
		return parent
	})
	m := miner.New(ch, nil, hasher.NewScheduler([]hasher.Device{withholdDevice{dev}}, log), miner.Config{}, log)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()

	const (
		limit = 10 * time.Millisecond
		// Long enough for the lanes to settle on a tip's work and, after a
		// new tip, to leave the old work and finish ranges on the new.
		settle = 100 * time.Millisecond
	)
	dev.Switches(t, 5, limit, func(i int) (stale, fresh chain.Hash, accepted time.Time) {
		time.Sleep(settle) // the lanes settle on the tip's work
		stale = ch.Tip().Hash
		next := ch.NextBlock()
		cb := chain.NewCoinbase(next.Height, chain.Address{9}, next.Subsidy, uint64(i))
		b := &chain.Block{Header: chain.Header{Version: 1, PrevBlock: next.Parent,
			MerkleRoot: chain.MerkleRoot([]chain.Hash{cb.Hash()}), Timestamp: next.MinTime, Bits: next.Bits}, Txs: []*chain.Tx{cb}}
		for chain.HashToBig(b.Hash()).Cmp(chain.CompactToBig(next.Bits)) > 0 {
			b.Header.Nonce++
		}
		if err := ch.ProcessBlock(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		// The limit runs from acceptance: validating and storing the block
		// come before the miner can hear of it.
		accepted = time.Now()
		time.Sleep(settle)
		if m.BlocksFound() != 0 {
			t.Fatal("the miner found a block with its hits withheld")
		}
		return stale, b.Hash(), accepted
	})
}

// Enabled is what was asked for, Mining what runs: a miner asked to mine
// that does not run is enabled and not mining.
func TestEnabled(t *testing.T) {
	ch, _ := chaintest.NewChain(t)
	m := newMiner(ch, nil, miner.Config{Address: chain.Address{4}})
	for _, on := range []bool{true, false, true} {
		if on != m.Enabled() {
			m.SetMining(on)
		}
		if m.Enabled() != on || m.Mining() {
			t.Errorf("asked %t, without Run: enabled %t, mining %t; want %t, false", on, m.Enabled(), m.Mining(), on)
		}
	}
}

// An idle miner hashes nothing until SetMining(true), and stops hashing on
// SetMining(false) while Run goes on.
func TestSetMining(t *testing.T) {
	ch, _ := chaintest.NewChain(t)
	m := newMiner(ch, nil, miner.Config{Address: chain.Address{4}, BlockInterval: 50 * time.Millisecond, Idle: true})
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()

	hashes := func() uint64 { return m.Devices()[0].Hashes }
	time.Sleep(200 * time.Millisecond)
	if m.Mining() || hashes() != 0 || ch.Tip().Height != 0 {
		t.Fatalf("idle miner: mining %v, %d hashes, height %d", m.Mining(), hashes(), ch.Tip().Height)
	}

	m.SetMining(true)
	tips, cancel := ch.Subscribe()
	defer cancel()
	select {
	case <-tips:
	case <-ctx.Done():
		t.Fatal("no block after SetMining(true)")
	}
	if !m.Mining() {
		t.Error("Mining() false after SetMining(true)")
	}

	m.SetMining(false)
	// A range in flight finishes; after that the count stands still.
	time.Sleep(300 * time.Millisecond)
	before, height := hashes(), ch.Tip().Height
	time.Sleep(300 * time.Millisecond)
	if m.Mining() || hashes() != before || ch.Tip().Height != height {
		t.Errorf("after SetMining(false): mining %v, hashes %d → %d, height %d → %d",
			m.Mining(), before, hashes(), height, ch.Tip().Height)
	}
}
