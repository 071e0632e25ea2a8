package stratum

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// MinerJob is a job as a miner hashes it, the same type as miner.PoolJob:
// both are aliases of one unnamed interface, so *Client is a miner.Pool
// though stratum may not import miner. Work returns roll n's header (its
// nonce 0) and share target, false past the last roll; Share sends roll n's
// header with a nonce found.
type MinerJob = interface {
	Work(n uint64) (chain.Header, chain.Hash, bool)
	Share(n uint64, h chain.Header)
}

// PoolWork is one job of the pool with what the client knew when it came:
// the extranonces, the share target and the version mask in force.
type PoolWork struct {
	Job             Job
	Extranonce1     []byte
	Extranonce2Size int
	Difficulty      float64
	// Target is the share target of Difficulty, little-endian as the
	// hasher compares hashes.
	Target chain.Hash
	// VersionMask is the BIP 310 mask the pool granted; 0 without rolling.
	VersionMask uint32
	Clean       bool

	sess *clientSession
	seq  uint64
}

// maxVersionRollBits bounds the version bits a roll varies: 2^16 versions of
// each extranonce2 are already 2^48 hashes.
const maxVersionRollBits = 16

// Roll returns the extranonce2 and version bits of roll n: the low bits of
// n go into the granted version bits (so that roll 0 is the job's own
// version), the rest into the extranonce2, written big-endian. False when n
// is past the last roll, or the work is the empty one that tells the miner
// the pool is gone.
func (w *PoolWork) Roll(n uint64) (extranonce2 []byte, versionBits uint32, ok bool) {
	if w.sess == nil || w.Extranonce2Size <= 0 {
		return nil, 0, false
	}
	k := min(bitCount(w.VersionMask), maxVersionRollBits)
	low, high := n&(1<<k-1), n>>k
	if w.Extranonce2Size < 8 && high>>(8*w.Extranonce2Size) != 0 {
		return nil, 0, false
	}
	extranonce2 = make([]byte, w.Extranonce2Size)
	var be [8]byte
	binary.BigEndian.PutUint64(be[:], high)
	if w.Extranonce2Size >= 8 {
		copy(extranonce2[w.Extranonce2Size-8:], be[:])
	} else {
		copy(extranonce2, be[8-w.Extranonce2Size:])
	}
	// Deposit low's bits into the mask's lowest k bits, over the job's.
	versionBits = w.Job.Version & w.VersionMask
	for bit := uint32(1); low != 0 && bit != 0; bit <<= 1 {
		if w.VersionMask&bit != 0 {
			if low&1 != 0 {
				versionBits ^= bit
			}
			low >>= 1
		}
	}
	return extranonce2, versionBits, true
}

// Work returns the header of roll n, nonce 0, and the share target: a
// MinerJob's Work.
func (w *PoolWork) Work(n uint64) (chain.Header, chain.Hash, bool) {
	en2, vbits, ok := w.Roll(n)
	if !ok {
		return chain.Header{}, chain.Hash{}, false
	}
	s := Submit{Extranonce2: en2, Time: w.Job.Time, VersionBits: vbits, HasVersionBits: w.VersionMask != 0}
	h, err := w.Job.Header(w.Extranonce1, &s, w.VersionMask)
	if err != nil { // Roll keeps the bits inside the mask
		return chain.Header{}, chain.Hash{}, false
	}
	return h, w.Target, true
}

// Share sends the share of roll n whose header, nonce included, is h.
func (w *PoolWork) Share(n uint64, h chain.Header) {
	en2, _, ok := w.Roll(n)
	if !ok {
		w.sess.c.log.Error("share of a roll the job does not have", "job", w.Job.ID, "roll", n)
		return
	}
	w.sess.c.Submit(w, en2, h)
}

// Submit sends the share of w with extranonce2 whose header is h, without
// waiting for the pool's answer. A share of a job that a clean job or a new
// connection replaced is counted stale and not sent; a header that does
// not meet the share target is a miner's bug and is not sent either.
func (c *Client) Submit(w *PoolWork, extranonce2 []byte, h chain.Header) {
	sub := Submit{Worker: c.cfg.User, JobID: w.Job.ID, Extranonce2: extranonce2, Time: h.Timestamp, Nonce: h.Nonce}
	if w.VersionMask != 0 {
		sub.HasVersionBits, sub.VersionBits = true, uint32(h.Version)&w.VersionMask
	}
	w.sess.submit(w, &sub, h)
}

func (s *clientSession) submit(w *PoolWork, sub *Submit, h chain.Header) {
	c := s.c
	s.mu.Lock()
	stale := s.closed || w.seq < s.cleanSeq
	s.mu.Unlock()
	if stale {
		c.update(func(st *ClientStats) { st.SharesStale++ })
		return
	}
	if hash := h.Hash(); chain.HashToBig(hash).Cmp(chain.HashToBig(w.Target)) > 0 {
		c.log.Error("share above the share target: not sent", "job", w.Job.ID, "hash", hash)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.update(func(st *ClientStats) { st.SharesStale++ })
		return
	}
	s.nextID++
	id := s.nextID
	line, _ := json.Marshal(map[string]any{"id": id, "method": "mining.submit", "params": sub.Params()})
	s.pending[id] = pendingCall{sent: time.Now(), share: true, done: func(r clientReply, took time.Duration) {
		c.latency(took)
		var ok bool
		if r.err == nil && json.Unmarshal(r.result, &ok) == nil && ok {
			c.update(func(st *ClientStats) { st.SharesAccepted++ })
			return
		}
		reason := rejectReason(r.err)
		c.update(func(st *ClientStats) {
			st.SharesRejected++
			st.RejectedBy[reason]++
		})
		c.log.Info("share rejected", "pool", s.url, "job", sub.JobID, "reason", reason, "err", r.err)
	}}
	sent := true
	select {
	case s.out <- append(line, '\n'):
	default:
		delete(s.pending, id)
		sent = false
	}
	s.mu.Unlock()
	if !sent {
		c.update(func(st *ClientStats) {
			st.SharesRejected++
			st.RejectedBy[ReasonNotSent]++
		})
	}
}

// Reasons a share counts as rejected under, in ClientStats.RejectedBy: the
// pool's error made short, or what the client saw.
const (
	ReasonLowDifficulty = "low-difficulty"
	ReasonDuplicate     = "duplicate"
	ReasonStale         = "stale"
	ReasonJobNotFound   = "job-not-found"
	ReasonOther         = "other"
	ReasonNoResponse    = "no-response" // the connection ended before the answer
	ReasonNotSent       = "not-sent"    // too many lines waited to go out
)

// rejectReason makes a pool's refusal short. Pools word it freely ("Job not
// found (=stale)", "low difficulty share", "high-hash"), and the codes of
// the common Stratum errors (21 job not found, 22 duplicate, 23 low
// difficulty) decide when the words do not.
func rejectReason(err error) string {
	var pe *PoolError
	if !errors.As(err, &pe) {
		return ReasonOther
	}
	msg := strings.ToLower(pe.Message)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(msg, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("duplicate"):
		return ReasonDuplicate
	case has("job not found", "job-not-found", "unknown job", "invalid job", "no such job"):
		return ReasonJobNotFound
	case has("stale"):
		return ReasonStale
	case has("low difficulty", "low diff", "above target", "high-hash", "difficulty"):
		return ReasonLowDifficulty
	}
	switch pe.Code {
	case 21:
		return ReasonJobNotFound
	case 22:
		return ReasonDuplicate
	case 23:
		return ReasonLowDifficulty
	}
	return ReasonOther
}
