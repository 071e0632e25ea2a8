package p2p

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/hashforge/hashforge/p2p/wire"
)

// The handshake: each side sends a version and acknowledges the other's; a
// peer is ready once both are through.

// onVersion checks a peer's version and acknowledges it: a peer on another
// network, ourselves, one already connected or a second version ends the
// connection.
func (s *Server) onVersion(p *peer, m *wire.MsgVersion) error {
	if m.Genesis != s.genesis {
		return fmt.Errorf("peer is on another network (genesis %s)", m.Genesis)
	}
	if m.NodeID == s.nodeID {
		// We dialled ourselves, through some address of ours: never again.
		// Either end may read the other's version first and close before
		// its own goes out, so the inbound end marks the address it was
		// reached at: the one dialled.
		addr := p.dialed
		if p.inbound {
			addr = p.conn.LocalAddr().String()
		}
		s.mu.Lock()
		if st := s.addrs[addr]; st != nil {
			st.self = true
		}
		s.mu.Unlock()
		return errors.New("connected to self")
	}
	s.mu.Lock()
	for q := range s.peers.all() {
		if id, _, ok := q.identity(); ok && q != p && id == m.NodeID {
			s.mu.Unlock()
			return errors.New("already connected to this node")
		}
	}
	s.mu.Unlock()
	p.mu.Lock()
	if p.version != nil {
		p.mu.Unlock()
		return errors.New("second version")
	}
	p.version = m
	p.tip = m.Tip
	if m.ListenPort != 0 {
		host, _, _ := net.SplitHostPort(p.addr)
		p.listenAddr = net.JoinHostPort(host, strconv.Itoa(int(m.ListenPort)))
	}
	p.mu.Unlock()
	p.send(&wire.MsgVerAck{})
	return nil
}

// onVerAck makes p ready, in a slot of its own: a verack counts only as
// the answer to the version p sent.
func (s *Server) onVerAck(p *peer) error {
	p.mu.Lock()
	first := p.version != nil && !p.verAcked
	p.mu.Unlock()
	if !first {
		return errors.New("verack out of order")
	}
	if err := s.takeSlot(p); err != nil {
		return err
	}
	s.onReady(p)
	return nil
}

// onReady runs once both versions are acknowledged.
func (s *Server) onReady(p *peer) {
	p.mu.Lock()
	listen := p.listenAddr
	p.mu.Unlock()
	s.log.Info("peer connected", "addr", p.addr, "inbound", p.inbound, "listen", listen, "height", p.tipInfo().Height)
	if listen != "" {
		if s.learn(listen, false) {
			if na, ok := toNetAddr(listen, s.now()); ok {
				// A node that joined us is announced to every peer; the
				// peers pass it on to a few of theirs (relayAddrs).
				s.broadcast(&wire.MsgAddr{Addrs: []wire.NetAddr{na}}, p)
			}
		}
		if s.book != nil && !p.inbound {
			if err := s.book.PutPeer(listen, s.now()); err != nil {
				s.log.Warn("save peer", "err", err)
			}
		}
	}
	p.send(&wire.MsgGetAddr{})
	p.send(&wire.MsgMempool{})
	s.maybeSync(p)
	s.notifyPeer("joined", p)
}
