package apiclient

import (
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
)

// The node's api package serves these very types, so the server and its
// clients read one definition of every body.

// Rates are hashes per second over the miner's windows, each null until the
// window has filled.
type Rates struct {
	S10 *float64 `json:"10s"`
	M1  *float64 `json:"60s"`
	M15 *float64 `json:"15m"`
}

// DeviceStatus is one hashing device's counters and rates.
type DeviceStatus struct {
	ID      string `json:"id"`
	Backend string `json:"backend"`
	Name    string `json:"name"`
	// Impl is a CPU device's SHA-256d path: avx512, avx2, shani or generic.
	Impl     string `json:"impl,omitempty"`
	Hashes   uint64 `json:"hashes"`
	Errors   uint64 `json:"errors"`
	Stopped  bool   `json:"stopped"`
	Paused   bool   `json:"paused"` // too hot: waits to cool below --gpu-temp-limit
	Hashrate Rates  `json:"hashrate"`
	// Health is a GPU's temperature, power, fan and clocks from NVML; null
	// where not available (no NVML, a CPU or OpenCL device).
	Health *hasher.Health `json:"health"`
}

// MempoolSummary sizes the pool.
type MempoolSummary struct {
	Count int `json:"count"`
	Bytes int `json:"bytes"`
}

// Sync is the node's height against the best a peer has shown, with the
// block rate over the last few seconds. It converts from the peer layer's
// own type, so a field added there fails the api's build until added here.
type Sync struct {
	Syncing   bool    `json:"syncing"`
	Height    uint64  `json:"height"`
	BestKnown uint64  `json:"best_known"` // highest tip height a peer has shown
	Rate      float64 `json:"blocks_per_second"`
}

// Status is the body of GET /api/status and of the first event of a stream.
type Status struct {
	NodeID     chain.Address `json:"node_id"`
	Version    string        `json:"version"`
	Network    string        `json:"network"`
	Height     uint64        `json:"height"`
	Tip        chain.Hash    `json:"tip"`
	TipTime    int64         `json:"tip_time"` // the tip header's timestamp, Unix seconds
	Difficulty float64       `json:"difficulty"`
	Work       string        `json:"work"` // cumulative, decimal: beyond float precision
	Mining     bool          `json:"mining"`
	// MiningError says why mining stopped by itself: the node cannot store
	// the blocks it finds (a full disk). Absent while there is no such
	// failure; mining resumes by itself once a write succeeds again.
	MiningError string `json:"mining_error,omitempty"`
	// Threads is how many threads the CPU devices hash with; 0 without one.
	Threads  int            `json:"threads"`
	Hashrate Rates          `json:"hashrate"` // every device together
	Devices  []DeviceStatus `json:"devices"`
	Peers    int            `json:"peers"`
	// Agreement is the share of peers whose tip is ours, null without peers;
	// PeersAgreeing counts them.
	Agreement     *float64       `json:"agreement"`
	PeersAgreeing int            `json:"peers_agreeing"`
	Sync          Sync           `json:"sync"`
	Mempool       MempoolSummary `json:"mempool"`
	// Pool is the pool the devices mine for (--pool); absent when they
	// mine for the node's own chain.
	Pool *PoolStatus `json:"pool,omitempty"`
}

// Peer is one entry of GET /api/peers. Like Sync, it converts from the peer
// layer's own type.
type Peer struct {
	Addr string `json:"addr"` // the socket's remote address
	// Listen is where the peer accepts connections, host and the port from
	// its version message: for an inbound peer, what to dial to reach it
	// (its socket's port is an ephemeral one). Empty before the handshake.
	Listen    string    `json:"listen,omitempty"`
	Direction string    `json:"direction"` // "inbound" or "outbound"
	Height    uint64    `json:"height"`
	Tip       string    `json:"tip"`
	Work      string    `json:"work"` // cumulative, decimal
	LastSeen  time.Time `json:"last_seen"`
	PingMS    *float64  `json:"ping_ms"` // null until a pong came back
	BanScore  int       `json:"ban_score"`
}

// Ban is one entry of GET /api/bans: a host the operator banned, or an
// address discouraged for misbehaviour. Like Peer, it converts from the
// peer layer's own type.
type Ban struct {
	Addr   string    `json:"addr"` // a host; a discouraged loopback or -k peer is host:port
	Kind   string    `json:"kind"` // "banned" (by the operator) or "discouraged" (for misbehaviour)
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
}

// BanRequest is the body of POST /api/bans.
type BanRequest struct {
	Addr string `json:"addr"` // an IP address; a port is ignored
	// Duration is a Go duration such as "24h"; empty for the node's default, 24 h.
	Duration string `json:"duration,omitempty"`
}

// AddrBody is {"addr": "..."}: the body of POST /api/peers, and the answer
// to it and to DELETE /api/bans/{addr}, naming the address acted on.
type AddrBody struct {
	Addr string `json:"addr"`
}

// BlockSummary is one block in a list.
type BlockSummary struct {
	Height     uint64        `json:"height"`
	Hash       chain.Hash    `json:"hash"`
	Prev       chain.Hash    `json:"prev"`
	Time       int64         `json:"time"` // header timestamp, Unix seconds
	Bits       string        `json:"bits"` // compact target, 8 hex digits as explorers show it
	Difficulty float64       `json:"difficulty"`
	Nonce      uint32        `json:"nonce"`
	TxCount    int           `json:"tx_count"`
	Size       int           `json:"size"`   // encoded bytes
	Miner      chain.Address `json:"miner"`  // the coinbase's recipient
	Reward     uint64        `json:"reward"` // the coinbase's amount: subsidy and fees, in units
}

// BlockDetail is the body of GET /api/blocks/{id}: a block with its
// transactions and its place in the chain.
type BlockDetail struct {
	BlockSummary
	Main bool `json:"main"`
	// Confirmations counts main-chain blocks from this one to the tip; 0
	// for a block off the main chain.
	Confirmations uint64      `json:"confirmations"`
	MerkleRoot    chain.Hash  `json:"merkle_root"`
	Version       int32       `json:"version"`
	Txs           []*chain.Tx `json:"txs"`
}

// BlockPage is the body of the block lists; Next is the height to ask for
// the following page from, null on the last.
type BlockPage struct {
	Blocks []BlockSummary `json:"blocks"`
	Next   *uint64        `json:"next"`
}

// TxResult answers a transaction the pool took.
type TxResult struct {
	TxID chain.Hash `json:"txid"`
}

// TxStatus is the body of GET /api/tx/{txid}.
type TxStatus struct {
	TxID   chain.Hash `json:"txid"`
	Status string     `json:"status"` // "pending" or "confirmed"
	// Where a confirmed transaction sits, and how many blocks (its own
	// included) bury it.
	Height        *uint64     `json:"height,omitempty"`
	Block         *chain.Hash `json:"block,omitempty"`
	Confirmations uint64      `json:"confirmations,omitempty"`
	Tx            *chain.Tx   `json:"tx"`
}

// Mempool is the body of GET /api/mempool.
type Mempool struct {
	Count int    `json:"count"`
	Bytes int    `json:"bytes"`
	Fees  uint64 `json:"fees"`
	// Txs are the pending transactions in the order a block takes them,
	// the first ?limit= of them (default 100).
	Txs []PendingTx `json:"txs"`
}

// PendingTx is a pending transaction with what the pool knows of it.
type PendingTx struct {
	Tx      *chain.Tx `json:"tx"`
	Size    int       `json:"size"`
	FeeRate float64   `json:"fee_rate"` // units per byte
	Added   time.Time `json:"added"`
}

// Account is the body of GET /api/accounts/{addr}: state at the tip in
// units, and how many of the address's transfers are pending.
type Account struct {
	Address chain.Address `json:"address"`
	Balance uint64        `json:"balance"`
	Nonce   uint64        `json:"nonce"`
	Pending uint64        `json:"pending"`
}

// NextNonce is the nonce the account's next transfer must carry: its pending
// transfers hold the nonces after the confirmed one.
func (a Account) NextNonce() uint64 { return a.Nonce + a.Pending }

// MiningChange is the body of POST /api/mining; either field may be left out.
type MiningChange struct {
	Enabled *bool `json:"enabled"`
	Threads *int  `json:"threads"`
}

// MiningState is the body of POST /api/mining's answer.
type MiningState struct {
	Mining  bool `json:"mining"`
	Threads int  `json:"threads"`
}

// HashrateTick is the data of a "hashrate" event.
type HashrateTick struct {
	Time     float64        `json:"time"` // Unix seconds
	Hashrate Rates          `json:"hashrate"`
	Devices  []DeviceStatus `json:"devices"`
}

// PeerChange is the data of a "peer" event.
type PeerChange struct {
	Event string `json:"event"` // "joined" or "left"
	Peer  Peer   `json:"peer"`
}

// ErrorBody is the body of every error answer: a message for people and,
// where a caller may branch on it, a stable code.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// Health is the body of GET /api/health, answered with 200 when Healthy
// and 503 with the problems otherwise, for load balancers and monitors.
type Health struct {
	Healthy  bool            `json:"healthy"`
	Problems []HealthProblem `json:"problems"` // empty when healthy
}

// HealthProblem is one reason a node is not healthy.
type HealthProblem struct {
	// Reason is stable, for programs: store_unwritable, chain_stalled,
	// mining_stopped, devices_failed or mining_failed; it is also the
	// reason label of the miner_health_problem metric.
	Reason  string `json:"reason"`
	Message string `json:"message"` // for people
}
