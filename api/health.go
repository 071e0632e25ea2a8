package api

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/p2p"
)

// Storage is the node's data on disk as the health check sees it.
type Storage interface {
	// Writable returns why the node cannot write its data, nil when it can.
	Writable() error
}

// The reasons a node is not healthy: each a HealthProblem's Reason and a
// miner_health_problem series.
const (
	reasonStoreUnwritable = "store_unwritable" // the datadir takes no writes
	reasonChainStalled    = "chain_stalled"    // behind the peers, not catching up
	reasonMiningStopped   = "mining_stopped"   // asked to mine, the miner does not run
	reasonDevicesFailed   = "devices_failed"   // mining, on no device left
	reasonMiningFailed    = "mining_failed"    // the miner's own error
)

var healthReasons = []string{reasonStoreUnwritable, reasonChainStalled, reasonMiningStopped, reasonDevicesFailed, reasonMiningFailed}

// stallAfter is how long the node may stay behind its peers at one height
// before it counts as stalled: sync connects many blocks a second, and a
// block a peer announces arrives with the announcement or at the next
// consensus round, a minute later at most.
const stallAfter = 2 * time.Minute

// health checks what GET /api/health and the health metrics report.
type health struct {
	cfg   Config
	stall stallWatch
}

// problems returns every reason the node is not healthy now; none is [].
// devs are the miner's devices, which the caller has read: each read asks
// every GPU's NVML, and a scrape reads them for its own series too.
func (h *health) problems(devs []hasher.DeviceStats) []apiclient.HealthProblem {
	out := []apiclient.HealthProblem{}
	add := func(reason, format string, args ...any) {
		out = append(out, apiclient.HealthProblem{Reason: reason, Message: fmt.Sprintf(format, args...)})
	}
	if st := h.cfg.Storage; st != nil {
		if err := st.Writable(); err != nil {
			add(reasonStoreUnwritable, "the datadir takes no writes: %v", err)
		}
	}
	sync := h.cfg.Peers.Sync()
	if d := h.stall.behind(sync, time.Now()); d >= stallAfter {
		add(reasonChainStalled, "at height %d for %s while peers are at %d", sync.Height, d.Round(time.Second), sync.BestKnown)
	}
	m := h.cfg.Miner
	if m == nil {
		return out
	}
	switch {
	case m.Enabled() && !m.Mining():
		add(reasonMiningStopped, "mining was asked for and the miner does not run")
	case m.Mining() && allStopped(devs):
		add(reasonDevicesFailed, "mining, and every hashing device has failed")
	}
	if err := m.MiningError(); err != nil {
		add(reasonMiningFailed, "%v", err)
	}
	return out
}

// allStopped reports whether there are devices and all have failed.
func allStopped(devs []hasher.DeviceStats) bool {
	for _, d := range devs {
		if !d.Stopped {
			return false
		}
	}
	return len(devs) > 0
}

// getHealth answers GET /api/health: 200 when healthy, 503 with the
// problems otherwise.
func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) {
	var devs []hasher.DeviceStats
	if m := s.cfg.Miner; m != nil {
		devs = m.Devices()
	}
	ps := s.health.problems(devs)
	status := http.StatusOK
	if len(ps) > 0 {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, apiclient.Health{Healthy: len(ps) == 0, Problems: ps})
}

// stallWatch tells a node that stays behind its peers from one that is
// catching up: it keeps the height at which the node was last seen behind
// and since when. It sees what checks show it, so a stall counts from the
// first check that sees the node behind at that height.
type stallWatch struct {
	mu     sync.Mutex
	height uint64
	since  time.Time // zero while not behind
}

// behind returns how long, as of now, sync has shown the node behind its
// peers at its present height; 0 when it is not behind.
func (w *stallWatch) behind(sync p2p.SyncStatus, now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !sync.Syncing {
		w.since = time.Time{}
		return 0
	}
	if w.since.IsZero() || sync.Height != w.height {
		w.height, w.since = sync.Height, now
	}
	return now.Sub(w.since)
}
