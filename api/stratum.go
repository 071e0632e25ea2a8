package api

import (
	"net/http"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/stratum"
)

// Stratum is what the API reads of the node's Stratum server.
type Stratum interface {
	Stats() stratum.ServerStats
	SubscribeBlocks() (<-chan stratum.BlockFound, func())
}

// PoolClient is what the API reads of the pool the devices mine for.
type PoolClient interface {
	Stats() stratum.ClientStats
}

// poolStatus is the pool client's part of the status; nil without one.
func (s *Server) poolStatus() *apiclient.PoolStatus {
	if s.cfg.PoolClient == nil {
		return nil
	}
	st := apiclient.PoolStatus(s.cfg.PoolClient.Stats())
	return &st
}

// getStratum answers GET /api/stratum.
func (s *Server) getStratum(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Stratum == nil {
		writeError(w, http.StatusNotFound, codeNotFound, "this node serves no Stratum miners (--stratum-port 0)")
		return
	}
	st := s.cfg.Stratum.Stats()
	out := apiclient.Stratum{Connections: st.Connections, Workers: make([]apiclient.StratumWorker, len(st.Workers)),
		Shares: st.Shares, BlocksFound: st.BlocksFound, Hashrate: st.Hashrate}
	for i, wk := range st.Workers {
		out.Workers[i] = apiclient.StratumWorker(wk)
	}
	writeJSON(w, http.StatusOK, out)
}
