package stratum

import (
	"time"

	"github.com/hashforge/hashforge/chain"
)

// ServerStats is what the server reports of its miners, for the API.
type ServerStats struct {
	// Connections counts every open connection, authorised or not.
	Connections int           `json:"connections"`
	Workers     []WorkerStats `json:"workers"`
	// Shares counts every share since the server started by result:
	// "accepted", or the reason of its refusal as in WorkerStats.Rejected.
	Shares      map[string]uint64 `json:"shares"`
	BlocksFound uint64            `json:"blocks_found"`
	// Hashrate sums the connected workers' estimates, in hashes per second.
	Hashrate float64 `json:"hashrate"`
}

// WorkerStats is one authorised connection.
type WorkerStats struct {
	Address    chain.Address `json:"address"`
	Worker     string        `json:"worker"` // the part of the user after the address and a dot
	Remote     string        `json:"remote"`
	UserAgent  string        `json:"user_agent"`
	Difficulty float64       `json:"difficulty"`
	Accepted   uint64        `json:"accepted"`
	// Rejected counts refused shares by reason: "stale", "job-not-found",
	// "duplicate", "low-difficulty", "bad-ntime", "bad-version",
	// "bad-params", "unauthorized", "not-subscribed", "block-rejected".
	Rejected map[string]uint64 `json:"rejected"`
	// Hashrate is estimated from the difficulty of the accepted shares
	// (each stands for difficulty·2^32 hashes on average) over the last
	// rateWindow, or since the connection began when that is shorter.
	Hashrate    float64   `json:"hashrate"`
	LastShare   time.Time `json:"last_share,omitzero"`
	BlocksFound uint64    `json:"blocks_found"`
	Connected   time.Time `json:"connected"`
}

// BlockFound is a block a worker's share completed that the chain accepted.
type BlockFound struct {
	Hash    chain.Hash    `json:"hash"`
	Height  uint64        `json:"height"`
	Worker  string        `json:"worker"`
	Address chain.Address `json:"address"`
}

// The hashrate estimate sums share difficulties in rateBuckets buckets that
// together span rateWindow: memory stays fixed however fast shares come.
const (
	rateWindow  = 5 * time.Minute
	rateBuckets = 30
	rateBucket  = rateWindow / rateBuckets
)

// hashesPerDifficulty is the hashes a share of difficulty 1 takes on
// average: difficulty 1's target is about 2^224, a 2^-32 chance per hash.
const hashesPerDifficulty = 1 << 32

// rateMeter estimates a hashrate from accepted shares.
type rateMeter struct {
	start time.Time
	sums  [rateBuckets]float64
	slots [rateBuckets]int64 // which rateBucket-long span of time each sum is of
}

func (m *rateMeter) add(now time.Time, diff float64) {
	slot := now.UnixNano() / int64(rateBucket)
	i := slot % rateBuckets
	if m.slots[i] != slot {
		m.slots[i], m.sums[i] = slot, 0
	}
	m.sums[i] += diff
}

// rate returns hashes per second over the window ending at now.
func (m *rateMeter) rate(now time.Time) float64 {
	slot := now.UnixNano() / int64(rateBucket)
	var sum float64
	for i, s := range m.slots {
		if slot-s < rateBuckets {
			sum += m.sums[i]
		}
	}
	span := min(rateWindow, now.Sub(m.start))
	if span <= 0 {
		return 0
	}
	return sum * hashesPerDifficulty / span.Seconds()
}
