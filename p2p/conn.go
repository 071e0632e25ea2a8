package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashforge/hashforge/p2p/wire"
)

// Connections: accepting, dialling with backoff, and the reader and writer
// of each peer.

const (
	dialTimeout  = 5 * time.Second
	writeTimeout = 30 * time.Second
	maxBackoff   = time.Minute
)

// ErrBadAddress marks an address Connect cannot dial: not host:port with a
// host and a port from 1 to 65535, or this node's own.
var ErrBadAddress = errors.New("bad peer address")

// Accept errors such as EMFILE pass once connections close: the loop waits
// and tries again, as net/http's does, rather than stop taking peers.
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

// accept starts a peer on each connection that screen lets in.
func (s *Server) accept(ctx context.Context, ln net.Listener) {
	var wait time.Duration // 0 outside a burst of errors
	failures := 0
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				s.log.Error("p2p accept", "err", err)
				return
			}
			if wait == 0 {
				s.log.Error("p2p accept failing; retrying", "err", err)
			}
			wait = acceptRetry(wait)
			failures++
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			continue
		}
		if wait != 0 {
			s.log.Info("p2p accept recovered", "failures", failures)
			wait, failures = 0, 0
		}
		host, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
		if !s.screen(host) {
			conn.Close()
			continue
		}
		s.start(ctx, conn, "")
	}
}

// acceptRetry is the wait after an accept error when the last wait was
// prev: it doubles from acceptRetryMin up to acceptRetryMax.
func acceptRetry(prev time.Duration) time.Duration {
	if prev == 0 {
		return acceptRetryMin
	}
	return min(2*prev, acceptRetryMax)
}

// dialMissing connects to known addresses while outbound slots are free:
// discouraged ones last, never those of banned hosts.
func (s *Server) dialMissing(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	// An address is marked connected from its dial to the end of its
	// connection: counting those counts dials still connecting too.
	free := s.cfg.MaxOutbound
	for _, st := range s.addrs {
		if st.connected {
			free--
		}
	}
	// Peers that dialled us are connected already, under their listen address.
	linked := make(map[string]bool)
	for p := range s.peers.all() {
		if _, listen, ok := p.identity(); ok {
			linked[listen] = true
		}
	}
	var later []string
	for addr, st := range s.addrsSorted() {
		if st.self || st.connected || linked[addr] || now.Before(st.nextTry) {
			continue
		}
		host, _, _ := net.SplitHostPort(addr)
		switch {
		case s.hostBanned(host):
		case s.discouragedAddr(addr, st) && !st.pinned:
			later = append(later, addr)
		case free > 0:
			s.startDial(ctx, addr)
			free--
		}
	}
	for _, addr := range later[:max(0, min(free, len(later)))] {
		s.startDial(ctx, addr)
	}
}

// startDial marks addr connected while its dial runs and starts it; s.mu is held.
func (s *Server) startDial(ctx context.Context, addr string) {
	s.addrs[addr].connected = true
	s.wg.Go(func() { s.dial(ctx, addr) })
}

func (s *Server) dial(ctx context.Context, addr string) {
	d := net.Dialer{Timeout: dialTimeout}
	s.dialing.Add(1)
	conn, err := d.DialContext(ctx, "tcp", addr)
	s.dialing.Add(-1)
	if err != nil {
		s.dialFailed(addr, err)
		return
	}
	s.start(ctx, conn, addr)
}

// dialFailed records a dial that failed. Users see it at info the first
// time and each time the wait before the next try grows; at the longest
// wait, only at debug, so a peer that stays down does not flood the log.
func (s *Server) dialFailed(addr string, err error) {
	wait, grew := s.dialDone(addr, false)
	level := slog.LevelDebug
	if grew {
		level = slog.LevelInfo
	}
	s.log.Log(context.Background(), level, "cannot reach peer", "addr", addr, "err", err, "retry_in", wait)
}

// dialDone records the end of a connection to a dialled address and when to
// try it again: soon after a good connection, with growing backoff after
// failures. It returns the wait, and whether it grew with this failure.
func (s *Server) dialDone(addr string, ok bool) (wait time.Duration, grew bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.addrs[addr]
	if st == nil {
		return 0, false
	}
	st.connected = false
	before := backoff(st.failures)
	if ok {
		st.failures = 0
	} else {
		st.failures++
	}
	wait = backoff(st.failures)
	st.nextTry = s.now().Add(wait)
	return wait, !ok && (st.failures == 1 || wait > before)
}

// backoff is the wait before the next dial after failures failures in a row.
func backoff(failures int) time.Duration {
	return min(maxBackoff, time.Second<<min(failures, 6))
}

// Connect keeps a connection to addr (host:port), as -k does: the address
// is pinned, dialled at the next dial round (every 500 ms) while an
// outbound slot is free, and redialled whenever the connection ends. An IP
// host is taken in its canonical form, the one the peer's own announcements
// and bans use. An address that is not host:port with a port from 1 to
// 65535, or that a dial found to be this node's own, wraps ErrBadAddress;
// one whose host is banned wraps ErrBanned. Before Run the address waits
// for Run; after Run it is only remembered.
func (s *Server) Connect(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadAddress, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if host == "" || err != nil || n == 0 {
		return fmt.Errorf("%w: %q: want host:port with a port from 1 to 65535", ErrBadAddress, addr)
	}
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	}
	addr = net.JoinHostPort(host, strconv.FormatUint(n, 10))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hostBanned(host) {
		return fmt.Errorf("%w: %s, until %s", ErrBanned, host, s.bans.banned[host].Until.Format(time.RFC3339))
	}
	st := s.addrs[addr]
	if st == nil {
		// Beyond maxKnownAddr if need be, as the -k addresses: the
		// operator named it, gossip did not.
		st = &addrState{}
		s.addrs[addr] = st
	}
	if st.self {
		return fmt.Errorf("%w: %s is this node's own", ErrBadAddress, addr)
	}
	st.pinned = true
	st.nextTry = time.Time{} // asked for now: no backoff from earlier failures
	return nil
}

// start runs a connection (dialed is "" for an inbound one): a reader, a
// writer, and our version first.
func (s *Server) start(ctx context.Context, conn net.Conn, dialed string) {
	p := newPeer(conn, conn.RemoteAddr().String(), dialed, s.now())
	s.mu.Lock()
	if ctx.Err() != nil {
		// Run has closed its peers, or is about to under s.mu: a peer
		// added now would hold Run's wait until its handshake timeout.
		s.mu.Unlock()
		conn.Close()
		if dialed != "" {
			s.dialDone(dialed, false)
		}
		return
	}
	s.peers.add(p)
	port := s.listenPort
	s.mu.Unlock()
	p.send(&wire.MsgVersion{Protocol: wire.ProtocolVersion, Genesis: s.genesis, NodeID: s.nodeID, ListenPort: port, Tip: s.tipInfo()})
	s.wg.Go(func() { s.writeLoop(p) })
	s.wg.Go(func() {
		s.readLoop(ctx, p)
		s.drop(p)
	})
}

func (s *Server) drop(p *peer) {
	p.close()
	s.mu.Lock()
	s.peers.remove(p)
	if s.syncPeer == p {
		s.syncPeer = nil
	}
	s.mu.Unlock()
	if p.dialed != "" {
		s.dialDone(p.dialed, p.ready())
	}
	if p.ready() {
		s.log.Info("peer disconnected", "addr", p.addr)
		s.notifyPeer("left", p)
	}
}

func (s *Server) writeLoop(p *peer) {
	w := &countingWriter{w: p.conn}
	for {
		select {
		case <-p.done:
			return
		case m := <-p.out:
			p.limits.expect(m, s.now())
			p.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			w.n = 0
			if err := wire.WriteMessage(w, s.magic, m); err != nil {
				p.close()
				return
			}
			s.traffic.add(sent, m.Command(), w.n)
		}
	}
}

func (s *Server) readLoop(ctx context.Context, p *peer) {
	handshakeBy := time.Now().Add(s.cfg.HandshakeTimeout)
	r := &countingReader{r: p.conn}
	for {
		deadline := time.Now().Add(s.cfg.IdleTimeout)
		if !p.ready() {
			deadline = handshakeBy
		}
		p.conn.SetReadDeadline(deadline)
		r.n = 0
		m, err := wire.ReadMessage(r, s.magic)
		if err != nil {
			if errors.Is(err, wire.ErrMalformed) {
				s.misbehave(p, banThreshold, err)
			}
			return
		}
		s.traffic.add(received, m.Command(), r.n)
		p.mu.Lock()
		p.lastSeen = s.now()
		p.mu.Unlock()
		if err := s.handle(ctx, p, m); err != nil {
			s.log.Debug("peer dropped", "addr", p.addr, "err", err)
			return
		}
	}
}
