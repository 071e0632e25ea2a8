package miner_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/miner"
)

// logCounter is a slog handler that counts records by the start of their
// message.
type logCounter struct {
	mu   sync.Mutex
	msgs []string
}

func (c *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *logCounter) WithGroup(string) slog.Handler            { return c }

func (c *logCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, r.Message)
	return nil
}

func (c *logCounter) count(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// waitUntil polls cond until it holds, failing the test after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
	}
}

// An unpaced miner on a chain whose store stops writing (a full disk) stops
// hashing at once, says why through MiningError, logs it once, offers the
// same block again with doubling waits, and resumes by itself once the store
// writes again; the block it found, stored or not, is the one the chain
// connects at that height, not a second one mined on the same parent.
func TestStoreFailureStopsMining(t *testing.T) {
	const first, most = 40 * time.Millisecond, 160 * time.Millisecond
	defer miner.SetRetryBackoff(first, most)()
	for _, op := range []chaintest.Op{chaintest.OpConnect, chaintest.OpPutBlock} {
		t.Run(string(op), func(t *testing.T) {
			ch, st := chaintest.NewFaultyChain(t)
			logs := new(logCounter)
			m := newLoggingMiner(ch, nil, miner.Config{Address: chain.Address{5}}, slog.New(logs))
			ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
			defer stop()
			done := make(chan struct{})
			go func() { m.Run(ctx); close(done) }()
			defer func() { stop(); <-done }()

			waitUntil(t, 10*time.Second, "three blocks mined", func() bool { return ch.Tip().Height >= 3 })
			st.Fail(op)
			waitUntil(t, 2*time.Second, "mining stopped", func() bool { return m.MiningError() != nil })
			if err := m.MiningError(); !errors.Is(err, chaintest.ErrDiskFull) || m.Mining() {
				t.Fatalf("stopped: MiningError %v, Mining %v; want the store's error and false", err, m.Mining())
			}
			stuck := ch.Tip().Height

			// A range in flight finishes; after that nothing is hashed.
			time.Sleep(200 * time.Millisecond)
			hashes := m.Devices()[0].Hashes
			time.Sleep(600 * time.Millisecond)
			if got := m.Devices()[0].Hashes; got != hashes {
				t.Errorf("%d hashes while the store cannot write", got-hashes)
			}

			st.Fail()
			waitUntil(t, 2*most, "mining resumed", func() bool { return m.Mining() })
			waitUntil(t, 10*time.Second, "two more blocks", func() bool { return ch.Tip().Height >= stuck+2 })
			stop()
			<-done

			failures := st.Failures()
			if len(failures) < 4 {
				t.Fatalf("%d failed writes in 800 ms: want the first and retries at %v doubling to %v", len(failures), first, most)
			}
			wait := first
			for i, f := range failures[1:] {
				if f.Hash != failures[0].Hash {
					t.Errorf("write %d was of block %s, the first of %s: a new block was mined", i+2, f.Hash, failures[0].Hash)
				}
				if gap := f.At.Sub(failures[i].At); gap < wait-5*time.Millisecond {
					t.Errorf("retry %d came %v after the one before, want at least %v", i+1, gap, wait)
				}
				wait = min(2*wait, most)
			}
			if got, ok, err := st.MainHash(stuck + 1); err != nil || !ok || got != failures[0].Hash {
				t.Errorf("main chain at height %d: %s (%v, %v), want the block that failed to store, %s", stuck+1, got, ok, err, failures[0].Hash)
			}
			if got := m.WriteErrors(); got != uint64(len(failures)) {
				t.Errorf("WriteErrors = %d, the store refused %d writes", got, len(failures))
			}
			if found := m.BlocksFound(); found != ch.Tip().Height {
				t.Errorf("BlocksFound = %d at height %d", found, ch.Tip().Height)
			}
			stopped, resumed, rejected := logs.count("mining stopped"), logs.count("mining resumed"), logs.count("mined block rejected")
			if stopped != 1 || resumed != 1 || rejected != 0 {
				t.Errorf("logged %d stops, %d resumptions, %d rejections over %d failed writes; want 1, 1, 0",
					stopped, resumed, rejected, len(failures))
			}
			if _, err := chain.Verify(context.Background(), chain.Regtest, st, nil); err != nil {
				t.Fatalf("verify: %v", err)
			}
		})
	}
}

// A node shutting down while its store cannot write does not wait out the
// retry backoff.
func TestShutdownWhileStoreFails(t *testing.T) {
	ch, st := chaintest.NewFaultyChain(t)
	m := newMiner(ch, nil, miner.Config{})
	st.Fail(chaintest.OpConnect)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	waitUntil(t, 10*time.Second, "mining stopped", func() bool { return m.MiningError() != nil })
	stop()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Run still running 1 s after its context ended")
	}
}
