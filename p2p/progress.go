package p2p

import (
	"sync"
	"time"
)

// SyncStatus is how far the node is behind the best tip its peers show.
type SyncStatus struct {
	Syncing   bool    `json:"syncing"`
	Height    uint64  `json:"height"`
	BestKnown uint64  `json:"best_known"` // highest tip height a peer has shown
	Rate      float64 `json:"blocks_per_second"`
}

// progressEvery is how often sync progress is measured and, while behind, logged.
const progressEvery = 2 * time.Second

// progress measures the block rate between ticks of the server's loop.
type progress struct {
	mu         sync.Mutex
	lastHeight uint64
	lastAt     time.Time
	rate       float64
}

// Sync reports the node's height against the best its peers know of.
func (s *Server) Sync() SyncStatus {
	st := SyncStatus{Height: s.chain.Tip().Height}
	s.mu.Lock()
	for p := range s.peers.all() {
		if p.ready() {
			st.BestKnown = max(st.BestKnown, p.tipInfo().Height)
		}
	}
	s.mu.Unlock()
	st.BestKnown = max(st.BestKnown, st.Height)
	st.Syncing = st.Height < st.BestKnown
	s.progress.mu.Lock()
	st.Rate = s.progress.rate
	s.progress.mu.Unlock()
	return st
}

// measureProgress updates the block rate and logs progress while behind.
func (s *Server) measureProgress() {
	now := s.now()
	height := s.chain.Tip().Height
	s.progress.mu.Lock()
	if !s.progress.lastAt.IsZero() && height >= s.progress.lastHeight {
		s.progress.rate = float64(height-s.progress.lastHeight) / now.Sub(s.progress.lastAt).Seconds()
	}
	s.progress.lastHeight, s.progress.lastAt = height, now
	s.progress.mu.Unlock()
	if st := s.Sync(); st.Syncing {
		s.log.Info("syncing", "height", st.Height, "best_known", st.BestKnown, "blocks_per_second", int(st.Rate))
	}
}
