package miner

import (
	"context"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
)

// PoolJob is one job of a pool, as the miner hashes it. A job has many
// rolls: each roll is a header of its own (another extranonce2, other
// version bits), so that when the 2^32 nonces of one are spent the miner
// moves to the next.
//
// It is an alias of an unnamed interface so that a pool client in another
// package (stratum, which may import no more than chain) can return a
// channel of the very same type without importing miner: Go gives unnamed
// interface types with the same methods one identity.
type PoolJob = interface {
	// Work returns the header of roll n, its nonce zero, and the share
	// target, little-endian as hasher.Work holds it; false when the job has
	// no roll n.
	Work(n uint64) (chain.Header, chain.Hash, bool)
	// Share hands the pool the header of roll n with a nonce that meets the
	// share target. It must not block: the devices' lanes call it.
	Share(n uint64, h chain.Header)
}

// Pool hands the miner a pool's jobs. With Config.Pool set the miner hashes
// for the pool instead of the chain.
type Pool interface {
	// Jobs delivers each new job; the latest wins. Every job replaces the
	// work of the one before at once, clean or not: a job that is not clean
	// still carries the pool's newer transactions.
	Jobs() <-chan PoolJob
}

// SharesFound counts the shares the miner handed its pool.
func (m *Miner) SharesFound() uint64 { return m.shares.Load() }

// poolLoop hashes the pool's jobs until ctx ends.
func (m *Miner) poolLoop(ctx context.Context) {
	jobs := m.cfg.Pool.Jobs()
	var job PoolJob
	var roll uint64
	// wait pauses the devices until something changes.
	wait := func() bool {
		m.sched.Pause()
		select {
		case <-ctx.Done():
			return false
		case <-m.toggled:
		case job = <-jobs:
			roll = 0
		}
		return true
	}
	for {
		if !m.enabled.Load() {
			if !wait() {
				return
			}
			continue
		}
		var header chain.Header
		var target chain.Hash
		ok := false
		if job != nil {
			header, target, ok = job.Work(roll)
		}
		if !ok {
			// No job yet, or every roll of this one spent.
			if !wait() {
				return
			}
			continue
		}
		header.Nonce = 0
		work := hasher.Work{Header: header.Bytes(), Target: target}
		j, n := job, roll
		sj, err := m.sched.Submit(work, 0, hasher.NonceSpace, func(hit hasher.Hit) {
			m.share(j, n, header, target, hit)
		})
		if err != nil {
			m.log.Error("submit work", "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case job = <-jobs:
			roll = 0 // the lanes leave the old job when their range ends
		case <-sj.Exhausted():
			roll++
		case <-m.toggled:
			// Hashing this roll again from nonce 0 would find the same
			// shares, which the pool refuses as duplicates.
			roll++
		}
	}
}

// share checks a hit on the CPU once more, against the header the pool
// will rebuild, and hands it to the job.
func (m *Miner) share(job PoolJob, roll uint64, h chain.Header, target chain.Hash, hit hasher.Hit) {
	h.Nonce = hit.Nonce
	hash := hasher.HashHeader(h.Bytes())
	t := [32]byte(target)
	if !hasher.Meets(&hash, &t) {
		m.log.Error("share above its target after the CPU check", "device", hit.Device, "nonce", hit.Nonce)
		return
	}
	m.shares.Add(1)
	job.Share(roll, h)
}
