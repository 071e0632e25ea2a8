package p2p

import (
	"errors"
	"net"
	"time"
)

// banThreshold is the ban score at which a peer's host is banned: every
// fault scores it at once, so one is enough.
const banThreshold = 100

// ErrBanned marks an address Connect refuses because its host is banned.
var ErrBanned = errors.New("host is banned")

// misbehave adds to a peer's ban score; at the threshold its host is banned
// and the connection closed.
func (s *Server) misbehave(p *peer, score int, why error) {
	p.mu.Lock()
	p.banScore += score
	total := p.banScore
	p.mu.Unlock()
	if total < banThreshold {
		return
	}
	// Counted once per peer, when its score reaches the threshold; a later
	// fault only extends the ban.
	if total-score < banThreshold {
		s.banCount.Add(1)
	}
	host, _, _ := net.SplitHostPort(p.addr)
	s.mu.Lock()
	s.bans[host] = time.Now().Add(s.cfg.BanDuration)
	s.mu.Unlock()
	s.log.Warn("peer banned", "addr", p.addr, "score", total, "reason", why, "for", s.cfg.BanDuration)
	p.close()
}

// hostBanned reports whether host is banned now; s.mu is held.
func (s *Server) hostBanned(host string) bool { return time.Now().Before(s.bans[host]) }

// Bans returns the number of bans imposed since start, one per peer banned.
func (s *Server) Bans() uint64 { return s.banCount.Load() }
