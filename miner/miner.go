// Package miner turns the chain tip into work for the hasher, submits solved
// blocks through the chain's ProcessBlock like any other block, and keeps
// hashrate windows. In pool mode it hashes a pool's jobs instead and hands
// the pool its shares.
package miner

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
)

// Chain is what the miner needs of the chain.
type Chain interface {
	NextBlock() chain.NextBlock
	ProcessBlock(ctx context.Context, b *chain.Block) error
	Subscribe() (<-chan chain.Tip, func())
}

// TxSource offers the transactions of a block template: the best-paying
// valid set for a block on parent within maxBytes, and their fees. When
// parent is no longer the tip, its error (or one it wraps) has a method
// StaleParent() bool that answers true, as ErrStaleParent does: the miner
// builds on the new tip instead of mining an empty block on the old one.
// A method, not a sentinel, so that a source (the mempool) and the miner
// need not import each other.
type TxSource interface {
	Template(parent chain.Hash, maxBytes int) ([]*chain.Tx, uint64, error)
}

// ErrStaleParent is a stale parent's error for sources of the miner's own
// making.
var ErrStaleParent error = staleParentError{}

type staleParentError struct{}

func (staleParentError) Error() string     { return "miner: the parent is no longer the tip" }
func (staleParentError) StaleParent() bool { return true }

// staleParent reports whether a TxSource's err says its parent is stale.
func staleParent(err error) bool {
	var e interface{ StaleParent() bool }
	return errors.As(err, &e) && e.StaleParent()
}

// refreshInterval is how often work is rebuilt with a newer timestamp and
// the pool's latest transactions, so a slow block does not carry a stale time
// into the difficulty adjustment and new transactions wait at most this long.
const refreshInterval = 5 * time.Second

// A mined block the chain could not store (a full disk) is offered again
// after retryFirst, then after twice as long each time up to retryMost: a
// freed disk is noticed within seconds, a disk that stays full costs one
// write attempt every half minute. Variables so tests can shorten them.
var (
	retryFirst = time.Second
	retryMost  = 30 * time.Second
)

// Config sets what the miner mines for.
type Config struct {
	Address chain.Address // the coinbase pays here
	// BlockInterval is the least time between two blocks this miner finds;
	// hashing pauses in between. Zero mines as fast as the target allows.
	BlockInterval time.Duration
	// Idle starts the miner without hashing, until SetMining(true).
	Idle bool
	// Pool, when set, has the miner hash a pool's jobs and hand it shares
	// instead of mining blocks on the chain; the chain may then be nil.
	Pool Pool
}

// Miner mines blocks on the chain's tip with the scheduler's devices.
type Miner struct {
	chain Chain
	sched *hasher.Scheduler
	cfg   Config
	log   *slog.Logger
	meter *meter

	enabled atomic.Bool   // what the user asked for: -m, or POST /api/mining
	running atomic.Bool   // Run is looping
	toggled chan struct{} // a SetMining the loop has not seen yet
	found   atomic.Uint64
	shares  atomic.Uint64

	templates *Templates

	failMu      sync.Mutex
	failure     error // why mining stopped: the chain cannot store a mined block
	writeErrors atomic.Uint64
}

// New returns a miner taking transactions from txs, which may be nil; Run
// starts it.
func New(c Chain, txs TxSource, sched *hasher.Scheduler, cfg Config, log *slog.Logger) *Miner {
	m := &Miner{chain: c, templates: NewTemplates(c, txs, log), sched: sched, cfg: cfg, log: log,
		meter: newMeter(windows[len(windows)-1]), toggled: make(chan struct{}, 1)}
	m.enabled.Store(!cfg.Idle)
	return m
}

// Templates returns the templates the miner builds its blocks with, for a
// Stratum server on the same node to share its transaction selection.
func (m *Miner) Templates() *Templates { return m.templates }

// Mining reports whether the miner is hashing for blocks.
func (m *Miner) Mining() bool {
	return m.running.Load() && m.enabled.Load() && m.MiningError() == nil
}

// MiningError returns why mining has stopped by itself: the chain could not
// store a block the miner found (a full disk). It is nil again once the
// block went in and mining resumed.
func (m *Miner) MiningError() error {
	m.failMu.Lock()
	defer m.failMu.Unlock()
	return m.failure
}

func (m *Miner) setFailure(err error) {
	m.failMu.Lock()
	defer m.failMu.Unlock()
	m.failure = err
}

// WriteErrors counts the attempts to store a mined block that failed.
func (m *Miner) WriteErrors() uint64 { return m.writeErrors.Load() }

// SetMining starts or stops hashing; the miner keeps running either way, so
// hashrate windows and counters carry on.
func (m *Miner) SetMining(on bool) {
	if m.enabled.Swap(on) != on {
		m.log.Info("mining", "enabled", on)
		select {
		case m.toggled <- struct{}{}:
		default: // the loop has one to see already
		}
	}
}

// SetThreads sets how many threads the CPU devices hash with.
func (m *Miner) SetThreads(n int) error { return m.sched.SetThreads(n) }

// Threads returns the threads the CPU devices hash with, and the most they may.
func (m *Miner) Threads() (active, most int) { return m.sched.Threads() }

// Enabled reports whether mining was asked for (-m or SetMining), whether
// or not the miner runs: a health check compares it with Mining.
func (m *Miner) Enabled() bool { return m.enabled.Load() }

// BlocksFound counts blocks this miner found that the chain accepted.
func (m *Miner) BlocksFound() uint64 { return m.found.Load() }

// Devices returns every device's counters.
func (m *Miner) Devices() []hasher.DeviceStats { return m.sched.Stats() }

// Windows returns the spans Hashrate averages over, shortest first: 10 s,
// 60 s and 15 min. Longer ones never fill.
func (m *Miner) Windows() []time.Duration { return slices.Clone(windows) }

// Hashrate returns the hashes per second of every device together over
// window, and false until the window has filled.
func (m *Miner) Hashrate(window time.Duration) (float64, bool) { return m.meter.rate(window, -1) }

// DeviceHashrate is Hashrate for the device at index i of Devices.
func (m *Miner) DeviceHashrate(i int, window time.Duration) (float64, bool) {
	return m.meter.rate(window, i)
}

// Run mines until ctx ends.
func (m *Miner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { m.sched.Run(ctx) })
	wg.Go(func() { m.sample(ctx) })
	m.running.Store(true)
	if m.cfg.Pool != nil {
		m.poolLoop(ctx)
	} else {
		m.loop(ctx)
	}
	m.running.Store(false)
	m.sched.Pause()
	wg.Wait()
}

func (m *Miner) sample(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		m.meter.add(time.Now(), m.sched.Hashes())
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (m *Miner) loop(ctx context.Context) {
	tips, cancel := m.chain.Subscribe()
	defer cancel()
	refresh := time.NewTicker(refreshInterval)
	defer refresh.Stop()

	// A random extranonce start keeps two miners paying one address off each
	// other's nonce space.
	var seed [8]byte
	rand.Read(seed[:])
	extraNonce := binary.LittleEndian.Uint64(seed[:])
	var lastFound time.Time
	for {
		if !m.enabled.Load() {
			m.sched.Pause()
			select {
			case <-ctx.Done():
				return
			case <-m.toggled:
			}
			continue
		}
		if wait := time.Until(lastFound.Add(m.cfg.BlockInterval)); wait > 0 {
			m.sched.Pause()
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		next := m.chain.NextBlock()
		if next.MinTime > next.MaxTime {
			// Unpaced regtest mining outran the clock by the network's
			// future limit: any block now would be rejected as too new.
			m.sched.Pause()
			select {
			case <-ctx.Done():
				return
			case <-tips:
			case <-time.After(time.Duration(next.MinTime-next.MaxTime) * time.Second):
			}
			continue
		}
		block, err := m.templates.build(next, m.cfg.Address, extraNonce)
		if staleParent(err) {
			continue // a block arrived since NextBlock: build on it
		}
		if err != nil {
			m.log.Error("block template", "err", err)
		}
		work := hasher.Work{Header: block.Header.Bytes(), Target: chain.BigToHash(chain.CompactToBig(next.Bits))}
		hits := make(chan hasher.Hit, 1)
		job, err := m.sched.Submit(work, 0, hasher.NonceSpace, func(h hasher.Hit) {
			select {
			case hits <- h:
			default: // one solution per job is enough
			}
		})
		if err != nil {
			m.log.Error("submit work", "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tips: // a new tip: stale work stops at once
		case <-m.toggled:
		case <-refresh.C:
		case <-job.Exhausted():
			extraNonce++
		case hit := <-hits:
			block.Header.Nonce = hit.Nonce
			// Pace rejected blocks too.
			lastFound = time.Now()
			if err := m.submit(ctx, block, tips); err != nil {
				if ctx.Err() == nil {
					m.log.Warn("mined block rejected", "hash", block.Hash(), "err", err)
				}
				continue
			}
			m.found.Add(1)
			m.log.Debug("block found", "hash", block.Hash(), "device", hit.Device)
			// Our own block is the tip we would be told about next.
			select {
			case <-tips:
			default:
			}
		}
	}
}

// submit hands a solved block to the chain. When the chain cannot store it
// (a full disk: any error but a broken rule) mining stops, and the same
// block is offered again with backoff until the chain takes it. Mining on
// would only find more blocks that cannot be stored, one log line each; and
// a new block would not be the one the chain may have stored already. The
// stop and the resumption are logged once each, however many tries between.
func (m *Miner) submit(ctx context.Context, b *chain.Block, tips <-chan chain.Tip) error {
	err := m.chain.ProcessBlock(ctx, b)
	if !storeFailed(err) {
		return err
	}
	m.sched.Pause()
	m.writeErrors.Add(1)
	m.setFailure(err)
	m.log.Error("mining stopped: the chain cannot store a mined block; offering it again until it can",
		"hash", b.Hash(), "err", err)
	stopped := time.Now()
	for wait := retryFirst; ; wait = min(2*wait, retryMost) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tips: // the chain stored a block from elsewhere: try at once
		case <-time.After(wait):
		}
		if err = m.chain.ProcessBlock(ctx, b); !storeFailed(err) {
			break
		}
		m.writeErrors.Add(1)
		m.setFailure(err) // the latest reason, without another log line
	}
	m.setFailure(nil)
	m.log.Info("mining resumed: the store writes again", "hash", b.Hash(),
		"stopped_for", time.Since(stopped).Round(time.Millisecond))
	if chain.Code(err) == chain.ErrDuplicateBlock {
		return nil // a block from elsewhere carried the chain onto ours
	}
	return err
}

// storeFailed reports an error of ProcessBlock that is the store's, not a
// rule the block broke.
func storeFailed(err error) bool { return err != nil && chain.Code(err) == "" }
