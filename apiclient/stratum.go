package apiclient

import (
	"context"
	"net/http"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// Stratum is GET /api/stratum: the node's Stratum server and the miners
// mining for it. A node without one answers 404.
type Stratum struct {
	// Connections counts every open connection, authorised or not.
	Connections int             `json:"connections"`
	Workers     []StratumWorker `json:"workers"`
	// Shares counts every share since the server started by result:
	// "accepted", or the reason it was refused.
	Shares      map[string]uint64 `json:"shares"`
	BlocksFound uint64            `json:"blocks_found"`
	// Hashrate is the workers' hashes per second, estimated from their
	// shares.
	Hashrate float64 `json:"hashrate"`
}

// StratumWorker is one authorised connection.
type StratumWorker struct {
	Address    chain.Address `json:"address"` // the coinbase of its jobs pays here, unless the node pays itself
	Worker     string        `json:"worker"`  // the name after the address and a dot
	Remote     string        `json:"remote"`
	UserAgent  string        `json:"user_agent"`
	Difficulty float64       `json:"difficulty"`
	Accepted   uint64        `json:"accepted"`
	// Rejected counts refused shares by reason: "stale", "job-not-found",
	// "duplicate", "low-difficulty", "bad-ntime", "bad-version",
	// "bad-params", "unauthorized", "not-subscribed", "block-rejected".
	Rejected    map[string]uint64 `json:"rejected"`
	Hashrate    float64           `json:"hashrate"` // estimated from its shares over the last 5 minutes
	LastShare   time.Time         `json:"last_share,omitzero"`
	BlocksFound uint64            `json:"blocks_found"`
	Connected   time.Time         `json:"connected"`
}

// StratumBlock is the data of a "stratum-block" event: a block a worker's
// share completed that the chain accepted.
type StratumBlock struct {
	Hash    chain.Hash    `json:"hash"`
	Height  uint64        `json:"height"`
	Worker  string        `json:"worker"`
	Address chain.Address `json:"address"`
}

// Stratum returns the node's Stratum server and its workers.
func (c *Client) Stratum(ctx context.Context) (*Stratum, error) {
	var s Stratum
	if err := c.do(ctx, http.MethodGet, "/api/stratum", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// PoolStatus is the "pool" of GET /api/status on a node whose devices mine
// for a Stratum pool.
type PoolStatus struct {
	URL            string    `json:"url"` // the pool in use, or being tried
	Connected      bool      `json:"connected"`
	ConnectedSince time.Time `json:"connected_since,omitzero"`
	Difficulty     float64   `json:"difficulty"`   // the share difficulty the pool set
	VersionMask    uint32    `json:"version_mask"` // version bits the pool lets the devices roll; 0: none
	SharesAccepted uint64    `json:"shares_accepted"`
	SharesRejected uint64    `json:"shares_rejected"`
	// SharesStale counts shares found after the pool replaced their job
	// with a clean one: not sent.
	SharesStale uint64 `json:"shares_stale"`
	// RejectedBy counts rejected shares by reason: "low-difficulty",
	// "duplicate", "stale", "job-not-found", "other", "no-response" (the
	// connection ended first), "not-sent" (too many waited to go out).
	RejectedBy map[string]uint64 `json:"rejected_by_reason"`
	// LatencyMS is the last round trip to the pool, LatencyAvgMS their
	// moving average.
	LatencyMS    float64 `json:"latency_ms"`
	LatencyAvgMS float64 `json:"latency_avg_ms"`
	Switches     uint64  `json:"switches"` // moves from one pool to another
}
