package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/p2p"
)

// Bans: the hosts the operator bans and the addresses the peer layer
// discourages for misbehaviour, listed together so that an operator who
// wonders why a peer stays away finds both, and lifts either.

// listBans answers GET /api/bans.
func (s *Server) listBans(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, convertAll(s.cfg.Peers.Banned(), func(b p2p.BanInfo) apiclient.Ban { return apiclient.Ban(b) }))
}

// ban answers POST /api/bans {"addr": "IP", "duration": "24h"}: the peer
// layer drops the host's peers and refuses it until the ban ends.
func (s *Server) ban(w http.ResponseWriter, r *http.Request) {
	var req apiclient.BanRequest
	if !decodeStrict(w, r, maxControlBody, &req, `{"addr": "IP", "duration": "24h"}`) {
		return
	}
	d, err := banDuration(req.Duration)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeMalformed, err.Error())
		return
	}
	switch b, err := s.cfg.Peers.Ban(req.Addr, d); {
	case errors.Is(err, p2p.ErrBadAddress):
		writeError(w, http.StatusBadRequest, codeMalformed, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
	default:
		writeJSON(w, http.StatusOK, apiclient.Ban(b))
	}
}

// banDuration reads a ban's duration: a Go duration over zero, or "" for
// the peer layer's default (0).
func banDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration: %w", err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %s: want more than zero", s)
	}
	return d, nil
}

// unban answers DELETE /api/bans/{addr}: a banned host or a discouraged
// address, as GET /api/bans lists it.
func (s *Server) unban(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("addr")
	switch err := s.cfg.Peers.Unban(addr); {
	case errors.Is(err, p2p.ErrNotBanned):
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
	default:
		writeJSON(w, http.StatusOK, apiclient.AddrBody{Addr: addr})
	}
}
