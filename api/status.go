package api

import (
	"net/http"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/p2p"
)

// Rates are hashes per second over the miner's windows, each null until the
// window has filled.
type Rates struct {
	S10 *float64 `json:"10s"`
	M1  *float64 `json:"60s"`
	M15 *float64 `json:"15m"`
}

// ratesOf reads rate over each of the miner's windows.
func ratesOf(windows []time.Duration, rate func(window time.Duration) (float64, bool)) Rates {
	var out [3]*float64
	for i, w := range windows[:len(out)] {
		if r, ok := rate(w); ok {
			out[i] = &r
		}
	}
	return Rates{S10: out[0], M1: out[1], M15: out[2]}
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
	// Threads is how many threads the CPU devices hash with; 0 without one.
	Threads  int            `json:"threads"`
	Hashrate Rates          `json:"hashrate"` // every device together
	Devices  []DeviceStatus `json:"devices"`
	Peers    int            `json:"peers"`
	// Agreement is the share of peers whose tip is ours, null without peers;
	// PeersAgreeing counts them.
	Agreement     *float64 `json:"agreement"`
	PeersAgreeing int      `json:"peers_agreeing"`
	// Sync is the height against the best a peer has shown, with the block
	// rate over the last few seconds.
	Sync    p2p.SyncStatus `json:"sync"`
	Mempool MempoolSummary `json:"mempool"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.snapshot())
}

func (s *Server) snapshot() Status {
	tip := s.cfg.Chain.Tip()
	st := Status{
		NodeID:     s.nodeID,
		Version:    s.cfg.Version,
		Network:    s.cfg.Chain.Params().Name,
		Height:     tip.Height,
		Tip:        tip.Hash,
		TipTime:    int64(tip.Header.Timestamp),
		Difficulty: chain.Difficulty(tip.Header.Bits),
		Work:       tip.Work.String(),
		Devices:    []DeviceStatus{},
	}
	if m := s.cfg.Miner; m != nil {
		st.Mining = m.Mining()
		st.Threads, _ = m.Threads()
		st.Hashrate = ratesOf(m.Windows(), m.Hashrate)
		st.Devices = s.devices()
	}
	st.Sync = s.cfg.Peers.Sync()
	agree, total := s.cfg.Peers.AgreementAt(tip.Hash)
	st.Peers, st.PeersAgreeing = total, agree
	if total > 0 {
		share := float64(agree) / float64(total)
		st.Agreement = &share
	}
	pool := s.cfg.Pool.Stats()
	st.Mempool = MempoolSummary{Count: pool.Count, Bytes: pool.Bytes}
	return st
}

// devices returns every device's counters and rates; the miner must be set.
func (s *Server) devices() []DeviceStatus {
	m := s.cfg.Miner
	stats, windows := m.Devices(), m.Windows()
	out := make([]DeviceStatus, len(stats))
	for i, d := range stats {
		out[i] = DeviceStatus{
			ID: d.Info.ID(), Backend: d.Info.Backend, Name: d.Info.Name, Impl: d.Info.Impl,
			Hashes: d.Hashes, Errors: d.Errors, Stopped: d.Stopped, Paused: d.Paused, Health: d.Health,
			Hashrate: ratesOf(windows, func(w time.Duration) (float64, bool) { return m.DeviceHashrate(i, w) }),
		}
	}
	return out
}
