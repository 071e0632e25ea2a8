package stratum

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// checkShare returns the header share s stands for on job j, for a miner of
// extranonce1 with the version mask agreed, and whether it meets the block's
// target. A hash that is no block must meet the share target; version bits
// outside the mask are refused. It is the part of a share's check that
// needs nothing of the connection's history.
func checkShare(j *Job, extranonce1 []byte, s *Submit, mask uint32, target *big.Int) (chain.Header, bool, *rpcError) {
	h, err := j.Header(extranonce1, s, mask)
	if err != nil {
		return h, false, refuse(codeOther, "bad-version", "version bits %08x outside the mask %08x", s.VersionBits, mask)
	}
	hash := chain.HashToBig(h.Hash())
	if hash.Cmp(chain.CompactToBig(j.Bits)) <= 0 {
		return h, true, nil
	}
	if hash.Cmp(target) > 0 {
		return h, false, refuse(codeLowDifficulty, "low-difficulty", "low difficulty share")
	}
	return h, false, nil
}

// submit answers mining.submit: a share checked, counted toward vardiff and
// the hashrate, and when it is a block, handed to the chain.
func (c *session) submit(ctx context.Context, params []json.RawMessage) (any, *rpcError) {
	now := time.Now()
	sh, rerr := c.share(params, now)
	block := rerr == nil && sh.block
	if block {
		rerr = c.block(ctx, sh)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	result := "accepted"
	if rerr != nil {
		result = rerr.reason
		if c.authorised {
			c.rejected[rerr.reason]++
		}
	} else {
		c.accepted++
		c.lastShare = now
		c.meter.add(now, sh.job.diff)
		if _, changed := c.vd.retarget(now, true); changed {
			c.diffChanged = true
		}
	}
	c.srv.count(result, block && rerr == nil)
	if rerr != nil {
		return nil, rerr
	}
	return true, nil
}

// share is a share that passed the checks.
type share struct {
	job         *sessionJob
	extranonce1 []byte
	submit      Submit
	header      chain.Header
	block       bool // it meets the block's target
}

// share checks a share against the connection's state and jobs: who may
// submit, which job, its time, duplicates, the mask and the targets.
func (c *session) share(params []json.RawMessage, now time.Time) (*share, *rpcError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.extranonce1 == nil {
		return nil, refuse(codeNotSubscribed, "not-subscribed", "not subscribed")
	}
	if !c.authorised {
		return nil, refuse(codeUnauthorized, "unauthorized", "unauthorized worker")
	}
	s, err := DecodeSubmit(params, extranonce2Size)
	if err != nil {
		return nil, refuse(codeOther, "bad-params", "%v", err)
	}
	if !c.users[s.Worker] {
		return nil, refuse(codeUnauthorized, "unauthorized", "unauthorized worker %.64q", s.Worker)
	}
	var sj *sessionJob
	for _, j := range c.jobs {
		if j.id == s.JobID {
			sj = j
		}
	}
	if sj == nil {
		return nil, refuse(codeJobNotFound, "job-not-found", "job not found")
	}
	if c.srv.jobs.stale(sj.work) {
		return nil, refuse(codeJobNotFound, "stale", "stale job: the chain has a new tip")
	}
	job := &sj.work.job
	if s.Time < job.Time {
		return nil, refuse(codeOther, "bad-ntime", "ntime %08x before the job's %08x", s.Time, job.Time)
	}
	if limit := now.Add(c.srv.cfg.MaxFutureTime); int64(s.Time) > limit.Unix() {
		return nil, refuse(codeOther, "bad-ntime", "ntime %08x more than %v ahead of the clock", s.Time, c.srv.cfg.MaxFutureTime)
	}
	// A share of an older job counts at the easier of its job's difficulty
	// and the newest: a miner may not have switched yet, or may already have.
	target := sj.target
	if newest := c.jobs[len(c.jobs)-1].target; newest.Cmp(target) > 0 {
		target = newest
	}
	h, block, rerr := checkShare(job, c.extranonce1, &s, c.mask, target)
	if rerr != nil && rerr.reason == "bad-version" {
		return nil, rerr
	}
	hash := h.Hash()
	if _, dup := sj.seen[hash]; dup {
		return nil, refuse(codeDuplicate, "duplicate", "duplicate share")
	}
	sj.seen[hash] = struct{}{}
	if rerr != nil {
		return nil, rerr
	}
	return &share{job: sj, extranonce1: c.extranonce1, submit: s, header: h, block: block}, nil
}

// block hands the block a share completed to the chain.
func (c *session) block(ctx context.Context, sh *share) *rpcError {
	h := sh.header
	b, err := sh.job.work.solved(sh.extranonce1, sh.submit.Extranonce2, h)
	if err == nil {
		err = c.srv.chain.ProcessBlock(ctx, b)
	}
	if err != nil {
		var rule *chain.RuleError
		if !errors.As(err, &rule) {
			c.srv.log.Error("stratum block not stored", "hash", h.Hash(), "err", err)
		}
		return refuse(codeOther, "block-rejected", "block rejected: %v", err)
	}
	c.mu.Lock()
	found := BlockFound{Hash: b.Hash(), Height: b.Txs[0].Height, Worker: c.worker, Address: c.address}
	c.blocks++
	c.mu.Unlock()
	c.srv.log.Info("stratum block found", "hash", found.Hash, "height", found.Height, "address", found.Address, "worker", found.Worker)
	c.srv.found.Publish(found)
	return nil
}
