package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/p2p"
)

// maxControlBody bounds the small JSON objects that steer the node.
const maxControlBody = 1 << 10

func (s *Server) listPeers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, convertAll(s.cfg.Peers.Peers(), func(p p2p.PeerInfo) apiclient.Peer { return apiclient.Peer(p) }))
}

// convertAll converts a list of the peer layer's type into the API's: an
// empty list stays a list in JSON, never null.
func convertAll[T, U any](xs []T, convert func(T) U) []U {
	out := make([]U, 0, len(xs))
	for _, x := range xs {
		out = append(out, convert(x))
	}
	return out
}

// connectPeer answers POST /api/peers {"addr": "host:port"}: the node keeps
// the peer connected from now on, as one given with -k.
func (s *Server) connectPeer(w http.ResponseWriter, r *http.Request) {
	var req apiclient.AddrBody
	if !decodeStrict(w, r, maxControlBody, &req, `{"addr": "host:port"}`) {
		return
	}
	switch err := s.cfg.Peers.Connect(req.Addr); {
	case errors.Is(err, p2p.ErrBadAddress):
		writeError(w, http.StatusBadRequest, codeMalformed, err.Error())
	case errors.Is(err, p2p.ErrBanned):
		writeError(w, http.StatusForbidden, codeConflict, err.Error())
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, codeBusy, err.Error())
	default:
		writeJSON(w, http.StatusAccepted, apiclient.AddrBody{Addr: req.Addr})
	}
}

// setMining answers POST /api/mining {"enabled": bool, "threads": n}: either
// field may be left out.
func (s *Server) setMining(w http.ResponseWriter, r *http.Request) {
	var req apiclient.MiningChange
	if !decodeStrict(w, r, maxControlBody, &req, `{"enabled": true|false, "threads": n}`) {
		return
	}
	if req.Enabled == nil && req.Threads == nil {
		writeError(w, http.StatusBadRequest, codeMalformed, `nothing to change: give "enabled", "threads" or both`)
		return
	}
	m := s.cfg.Miner
	if m == nil {
		writeError(w, http.StatusConflict, codeConflict, "this node has no hashing device")
		return
	}
	// Threads first: a request that sets both and fails changes nothing.
	if req.Threads != nil {
		if err := m.SetThreads(*req.Threads); err != nil {
			if errors.Is(err, hasher.ErrNoCPU) {
				writeError(w, http.StatusConflict, codeConflict, fmt.Sprintf("threads: %v", err))
			} else {
				writeError(w, http.StatusBadRequest, codeMalformed, err.Error())
			}
			return
		}
	}
	if req.Enabled != nil {
		m.SetMining(*req.Enabled)
	}
	threads, _ := m.Threads()
	writeJSON(w, http.StatusOK, apiclient.MiningState{Mining: m.Mining(), Threads: threads})
}
