package api

import (
	"net/http"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
)

// ratesOf reads rate over each of the miner's windows.
func ratesOf(windows []time.Duration, rate func(window time.Duration) (float64, bool)) apiclient.Rates {
	var out [3]*float64
	for i, w := range windows[:len(out)] {
		if r, ok := rate(w); ok {
			out[i] = &r
		}
	}
	return apiclient.Rates{S10: out[0], M1: out[1], M15: out[2]}
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.snapshot())
}

func (s *Server) snapshot() apiclient.Status {
	tip := s.cfg.Chain.Tip()
	st := apiclient.Status{
		NodeID:     s.nodeID,
		Version:    s.cfg.Version,
		Network:    s.cfg.Chain.Params().Name,
		Height:     tip.Height,
		Tip:        tip.Hash,
		TipTime:    int64(tip.Header.Timestamp),
		Difficulty: chain.Difficulty(tip.Header.Bits),
		Work:       tip.Work.String(),
		Devices:    []apiclient.DeviceStatus{},
	}
	if m := s.cfg.Miner; m != nil {
		st.Mining = m.Mining()
		if err := m.MiningError(); err != nil {
			st.MiningError = err.Error()
		}
		st.Threads, _ = m.Threads()
		st.Hashrate = ratesOf(m.Windows(), m.Hashrate)
		st.Devices = s.devices()
	}
	st.Sync = apiclient.Sync(s.cfg.Peers.Sync())
	agree, total := s.cfg.Peers.AgreementAt(tip.Hash)
	st.Peers, st.PeersAgreeing = total, agree
	if total > 0 {
		share := float64(agree) / float64(total)
		st.Agreement = &share
	}
	pool := s.cfg.Pool.Stats()
	st.Mempool = apiclient.MempoolSummary{Count: pool.Count, Bytes: pool.Bytes}
	st.Pool = s.poolStatus()
	return st
}

// devices returns every device's counters and rates; the miner must be set.
func (s *Server) devices() []apiclient.DeviceStatus {
	m := s.cfg.Miner
	stats, windows := m.Devices(), m.Windows()
	out := make([]apiclient.DeviceStatus, len(stats))
	for i, d := range stats {
		out[i] = apiclient.DeviceStatus{
			ID: d.Info.ID(), Backend: d.Info.Backend, Name: d.Info.Name, Impl: d.Info.Impl,
			Hashes: d.Hashes, Errors: d.Errors, Stopped: d.Stopped, Paused: d.Paused, Health: d.Health,
			Hashrate: ratesOf(windows, func(w time.Duration) (float64, bool) { return m.DeviceHashrate(i, w) }),
		}
	}
	return out
}
