package miner_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/miner"
)

// scriptedPool is a pool as the miner sees it: the test hands it jobs, and
// it records every share with the time it came.
type scriptedPool struct {
	jobs chan miner.PoolJob

	mu     sync.Mutex
	shares []share
}

type share struct {
	job    *scriptedJob
	roll   uint64
	header chain.Header
	at     time.Time
}

func newScriptedPool() *scriptedPool {
	return &scriptedPool{jobs: make(chan miner.PoolJob, 1)}
}

func (p *scriptedPool) Jobs() <-chan miner.PoolJob { return p.jobs }

// send replaces the job waiting, if any: the latest wins.
func (p *scriptedPool) send(j *scriptedJob) {
	select {
	case <-p.jobs:
	default:
	}
	p.jobs <- j
}

func (p *scriptedPool) all() []share {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]share(nil), p.shares...)
}

// scriptedJob rolls its header by the merkle root's first bytes, as an
// extranonce2 would, over rolls rolls.
type scriptedJob struct {
	pool   *scriptedPool
	name   byte
	rolls  uint64
	target chain.Hash
}

func (j *scriptedJob) header(n uint64) chain.Header {
	h := chain.Header{Version: 0x20000000, PrevBlock: chain.Hash{j.name}, Timestamp: 1700000000, Bits: 0x1d00ffff}
	h.MerkleRoot = chain.DoubleSHA256([]byte{j.name, byte(n), byte(n >> 8)})
	return h
}

func (j *scriptedJob) Work(n uint64) (chain.Header, chain.Hash, bool) {
	if n >= j.rolls {
		return chain.Header{}, chain.Hash{}, false
	}
	return j.header(n), j.target, true
}

func (j *scriptedJob) Share(n uint64, h chain.Header) {
	j.pool.mu.Lock()
	defer j.pool.mu.Unlock()
	j.pool.shares = append(j.pool.shares, share{job: j, roll: n, header: h, at: time.Now()})
}

// easyTarget is met by one hash in 2^bits.
func easyTarget(bits uint) chain.Hash {
	return chain.BigToHash(new(big.Int).Lsh(big.NewInt(1), 256-bits))
}

// A miner in pool mode hashes the pool's job with a real CPU device: every
// share it hands over is the job's header of that roll with a nonce that
// meets the share target; a new job stops the old one's work at once; a
// pause and resume moves to the next roll rather than find the same shares
// again; and a job with no roll left leaves the devices idle.
func TestMinerPoolMode(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	devs, _ := hasher.OpenAll(cpu.New(1))
	pool := newScriptedPool()
	m := miner.New(nil, nil, hasher.NewScheduler(devs, log), miner.Config{Pool: pool}, log)
	ctx, stop := context.WithTimeout(context.Background(), 60*time.Second)
	defer stop()
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()

	target := easyTarget(12)
	a := &scriptedJob{pool: pool, name: 'a', rolls: 10, target: target}
	pool.send(a)
	waitShares := func(what string, ok func([]share) bool) []share {
		t.Helper()
		for {
			s := pool.all()
			if ok(s) {
				return s
			}
			select {
			case <-ctx.Done():
				rolls := map[string]int{}
				for _, sh := range s {
					rolls[string(sh.job.name)+fmt.Sprint(sh.roll)]++
				}
				t.Fatalf("%s: %d shares before the deadline: %v", what, len(s), rolls)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	// count waits for shares of job j from roll at least roll.
	count := func(j *scriptedJob, roll uint64) func([]share) bool {
		return func(s []share) bool {
			n := 0
			for _, sh := range s {
				if sh.job == j && sh.roll >= roll {
					n++
				}
			}
			return n >= 5
		}
	}
	waitShares("job a", count(a, 0))
	if !m.Mining() {
		t.Error("Mining() false while hashing for the pool")
	}

	// A pause and resume: the next shares come from a later roll (roll 2
	// when the loop saw the pause and the resume apart).
	m.SetMining(false)
	m.SetMining(true)
	waitShares("job a after resume", count(a, 1))

	b := &scriptedJob{pool: pool, name: 'b', rolls: 10, target: target}
	pool.send(b)
	switched := time.Now()
	waitShares("job b", count(b, 0))
	time.Sleep(200 * time.Millisecond)

	for _, s := range pool.all() {
		want := s.job.header(s.roll)
		got := s.header
		got.Nonce = 0
		if got != want {
			t.Fatalf("share of job %c roll %d: header %+v, want the roll's %+v", s.job.name, s.roll, got, want)
		}
		hash := s.header.Hash()
		if chain.HashToBig(hash).Cmp(chain.HashToBig(target)) > 0 {
			t.Errorf("share %s above the target", hash)
		}
		// The CPU device's ranges take about 2 ms; 100 ms leaves room for
		// a loaded machine.
		if s.job == a && s.at.After(switched.Add(100*time.Millisecond)) {
			t.Errorf("share of the old job %v after the new job came", s.at.Sub(switched))
		}
	}
	if got, want := m.SharesFound(), uint64(len(pool.all())); got != want {
		t.Errorf("SharesFound %d, pool has %d", got, want)
	}

	// A job with no roll: nothing to hash.
	pool.send(&scriptedJob{pool: pool, name: 'c', rolls: 0, target: target})
	time.Sleep(100 * time.Millisecond)
	before := m.Devices()[0].Hashes
	time.Sleep(200 * time.Millisecond)
	if after := m.Devices()[0].Hashes; after != before {
		t.Errorf("%d hashes with no work to hash", after-before)
	}
}
