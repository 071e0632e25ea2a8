package p2p

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"
)

// Misbehaviour and bans, as bitcoind has them since 0.21: a peer that
// breaks the protocol is disconnected and its address discouraged, never
// banned; only the operator bans a host (Ban, through the API).

// banThreshold is the misbehaviour score at which a peer is disconnected
// and discouraged: every fault but a flood scores it at once.
const banThreshold = 100

// maxDiscouraged bounds the discouraged addresses remembered: misbehaving
// from many addresses cannot grow memory. The one that expires first goes.
const maxDiscouraged = 10_000

var (
	// ErrBanned marks an address Connect refuses because its host is banned.
	ErrBanned = errors.New("host is banned")
	// ErrNotBanned marks an address Unban finds neither banned nor discouraged.
	ErrNotBanned = errors.New("address is neither banned nor discouraged")
)

// Kinds of BanInfo.
const (
	KindBanned      = "banned"      // by the operator: no connection either way
	KindDiscouraged = "discouraged" // for misbehaviour: last to be dialled, refused while slots are scarce
)

// BanInfo is a banned host or a discouraged address.
type BanInfo struct {
	Addr   string    `json:"addr"` // a host; a discouraged loopback or -k peer is host:port
	Kind   string    `json:"kind"` // KindBanned or KindDiscouraged
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
}

// banBook holds the operator's bans and the addresses discouraged for
// misbehaviour, under Server.mu.
type banBook struct {
	banned      map[string]BanInfo // host → its ban
	discouraged map[string]BanInfo // host, or host:port of a loopback or -k peer → its discouragement
}

func newBanBook() banBook {
	return banBook{banned: make(map[string]BanInfo), discouraged: make(map[string]BanInfo)}
}

// misbehave adds to a peer's score; at the threshold the peer is
// disconnected and its address discouraged.
func (s *Server) misbehave(p *peer, score int, why error) {
	p.mu.Lock()
	p.banScore += score
	total := p.banScore
	listen := p.listenAddr
	p.mu.Unlock()
	if total < banThreshold {
		return
	}
	// Counted and logged once per peer, when its score reaches the
	// threshold: its reader may still be handling a message.
	if total-score < banThreshold {
		s.banCount.Add(1)
		s.mu.Lock()
		// A peer we dialled listens where we dialled it.
		addr := discourageKey(p.addr, cmp.Or(listen, p.dialed), s.pinned(p.dialed) || s.pinned(listen))
		if addr != "" {
			s.discourage(addr, why.Error())
		}
		s.mu.Unlock()
		s.log.Warn("peer misbehaved", "addr", p.addr, "score", total, "reason", why, "discouraged", addr, "for", s.cfg.BanDuration)
	}
	p.close()
}

// discourageKey is what a peer's misbehaviour discourages: its host, the
// way bitcoind does, since its socket's port is any port. A loopback host
// is every node on the machine, and the operator named a -k peer: for these
// only the address the peer listens on, or nothing if it does not listen
// (its socket's port is never seen again).
func discourageKey(sock, listen string, pinned bool) string {
	host, _, _ := net.SplitHostPort(sock)
	if !pinned && scope(sock) != 0 {
		return host
	}
	return listen
}

// pinned reports whether addr is a -k or API peer's; s.mu is held.
func (s *Server) pinned(addr string) bool {
	st := s.addrs[addr]
	return st != nil && st.pinned
}

// discourage records addr as discouraged for BanDuration; s.mu is held.
func (s *Server) discourage(addr, reason string) {
	now := s.now()
	if _, ok := s.bans.discouraged[addr]; !ok && len(s.bans.discouraged) >= maxDiscouraged {
		first := ""
		for a, b := range s.bans.discouraged {
			if first == "" || b.Until.Before(s.bans.discouraged[first].Until) {
				first = a
			}
		}
		delete(s.bans.discouraged, first)
	}
	s.bans.discouraged[addr] = BanInfo{Addr: addr, Kind: KindDiscouraged, Reason: reason, Until: now.Add(s.cfg.BanDuration)}
	for a, st := range s.addrs {
		if host, _, _ := net.SplitHostPort(a); a == addr || host == addr {
			st.discouraged = true
		}
	}
}

// hostBanned reports whether host is banned now; s.mu is held.
func (s *Server) hostBanned(host string) bool { return s.now().Before(s.bans.banned[host].Until) }

// isDiscouraged reports whether addr (host or host:port) is discouraged now,
// by itself or by its host; s.mu is held.
func (s *Server) isDiscouraged(addr string) bool {
	now := s.now()
	if host, _, err := net.SplitHostPort(addr); err == nil && now.Before(s.bans.discouraged[host].Until) {
		return true
	}
	return now.Before(s.bans.discouraged[addr].Until)
}

// Bans returns the number of peers discouraged for misbehaviour since start.
func (s *Server) Bans() uint64 { return s.banCount.Load() }

// Ban bans host (an IP, or IP:port whose port is dropped) for d, or for
// BanDuration when d ≤ 0: its peers are disconnected, it is not dialled,
// and its connections are closed as soon as they are accepted. A host that
// is not an IP wraps ErrBadAddress.
func (s *Server) Ban(host string, d time.Duration) (BanInfo, error) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return BanInfo{}, fmt.Errorf("%w: %q: want an IP address", ErrBadAddress, host)
	}
	if d <= 0 {
		d = s.cfg.BanDuration
	}
	b := BanInfo{Addr: ip.String(), Kind: KindBanned, Reason: "banned by the operator", Until: s.now().Add(d)}
	s.mu.Lock()
	s.bans.banned[b.Addr] = b
	s.saveBans()
	for p := range s.peers.all() {
		if h, _, _ := net.SplitHostPort(p.addr); h == b.Addr {
			p.close()
		}
	}
	s.mu.Unlock()
	s.log.Warn("host banned", "host", b.Addr, "until", b.Until.Format(time.RFC3339))
	return b, nil
}

// Unban lifts the ban of a host or the discouragement of an address
// (written as Banned lists it; an IP in any of its forms). One that is
// neither wraps ErrNotBanned.
func (s *Server) Unban(addr string) error {
	if ip := net.ParseIP(addr); ip != nil {
		addr = ip.String()
	} else if h, port, err := net.SplitHostPort(addr); err == nil && net.ParseIP(h) != nil {
		addr = net.JoinHostPort(net.ParseIP(h).String(), port)
	}
	s.mu.Lock()
	_, banned := s.bans.banned[addr]
	_, discouraged := s.bans.discouraged[addr]
	delete(s.bans.banned, addr)
	delete(s.bans.discouraged, addr)
	if banned {
		s.saveBans()
	}
	s.mu.Unlock()
	if !banned && !discouraged {
		return fmt.Errorf("%w: %s", ErrNotBanned, strconv.Quote(addr))
	}
	s.log.Info("ban lifted", "addr", addr)
	return nil
}

// Banned lists the hosts banned and the addresses discouraged now, by
// address; it forgets those that have expired.
func (s *Server) Banned() []BanInfo {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []BanInfo{}
	for _, m := range []map[string]BanInfo{s.bans.banned, s.bans.discouraged} {
		for a, b := range m {
			if now.Before(b.Until) {
				out = append(out, b)
			} else {
				delete(m, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b BanInfo) int { return cmp.Or(cmp.Compare(a.Addr, b.Addr), cmp.Compare(a.Kind, b.Kind)) })
	return out
}
