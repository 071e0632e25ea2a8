// Package p2p connects a node to its peers over TCP: framed messages (see
// README.md), a version handshake, ping/pong liveness, address gossip, block
// relay of tip announcements, transaction relay, sync from peers with more
// work, a periodic consensus round, and ban scores for peers that break the
// protocol.
package p2p

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// Chain is what the peer layer needs of the chain.
type Chain interface {
	Tip() chain.Tip
	Params() *chain.Params
	ProcessBlock(ctx context.Context, b *chain.Block) error
	Subscribe() (<-chan chain.Tip, func())
	Have(h chain.Hash) bool
	Block(h chain.Hash) (*chain.Block, error)
	Locator() []chain.Hash
	HeadersAfter(locator []chain.Hash, stop chain.Hash, max int) []chain.Header
}

// Book keeps the addresses of reachable peers across restarts.
type Book interface {
	Peers() ([]string, error)
	PutPeer(addr string, seen time.Time) error
}

// Config sets the peer layer's addresses, limits and timers.
type Config struct {
	Listen            string   // host:port to accept peers on; "" accepts none
	Connect           []string // peers to keep connected (-k)
	MaxInbound        int
	MaxOutbound       int
	PingInterval      time.Duration // liveness and tip exchange
	IdleTimeout       time.Duration // a peer silent this long is dropped
	ConsensusInterval time.Duration // how often every peer's tip is compared with ours
	HandshakeTimeout  time.Duration
	BanDuration       time.Duration
}

// DefaultConfig returns the limits and timers of design.md.
func DefaultConfig() Config {
	return Config{
		MaxInbound:        32,
		MaxOutbound:       8,
		PingInterval:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ConsensusInterval: 60 * time.Second,
		HandshakeTimeout:  10 * time.Second,
		BanDuration:       24 * time.Hour,
	}
}

const (
	banThreshold = 100
	maxKnownAddr = 1000 // addresses remembered at most: an addr flood cannot grow memory
	maxAddrRelay = 10   // longest addr message that is passed on
	dialTimeout  = 5 * time.Second
	writeTimeout = 30 * time.Second
	maxBackoff   = time.Minute
	syncStall    = 30 * time.Second // a sync peer silent this long is replaced
)

// addrState is what the server knows of a peer address.
type addrState struct {
	pinned    bool // from -k: always retried
	self      bool // it is this node
	connected bool
	failures  int
	nextTry   time.Time
}

// Server runs the peer layer of one node.
type Server struct {
	cfg     Config
	chain   Chain
	pool    Mempool
	book    Book
	log     *slog.Logger
	magic   [4]byte
	genesis chain.Hash
	nodeID  uint64
	dialing atomic.Int64 // dials connecting now

	mu         sync.Mutex
	listenPort uint16
	peers      map[*peer]struct{}
	addrs      map[string]*addrState
	bans       map[string]time.Time // host → banned until
	syncPeer   *peer
	syncSince  time.Time
	syncAsked  bool // a getheaders to syncPeer awaits its headers
	progress   progress
	txs        txState
	wg         sync.WaitGroup

	traffic  trafficStats
	banCount atomic.Uint64 // bans imposed since start

	subMu sync.Mutex
	subs  map[chan PeerEvent]struct{}
}

// ErrBadAddress marks an address Connect cannot dial: not host:port with a
// host and a port from 1 to 65535, or this node's own.
var ErrBadAddress = errors.New("bad peer address")

// ErrBanned marks an address Connect refuses because its host is banned.
var ErrBanned = errors.New("host is banned")

// New returns a peer layer for ch that relays the transactions of pool;
// book may be nil.
func New(cfg Config, ch Chain, pool Mempool, book Book, log *slog.Logger) *Server {
	var id [8]byte
	rand.Read(id[:])
	return &Server{
		cfg: cfg, chain: ch, pool: pool, book: book, log: log,
		magic:   ch.Params().Magic,
		genesis: ch.Params().GenesisHash(),
		nodeID:  binary.LittleEndian.Uint64(id[:]),
		peers:   make(map[*peer]struct{}),
		addrs:   make(map[string]*addrState),
		bans:    make(map[string]time.Time),
		txs:     newTxState(),
		traffic: newTrafficStats(),
		subs:    make(map[chan PeerEvent]struct{}),
	}
}

// Listen binds the listening socket, so a port in use fails start-up
// instead of a background goroutine. Run serves it.
func (s *Server) Listen() (net.Listener, error) {
	if s.cfg.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("p2p: %w", err)
	}
	s.mu.Lock()
	s.listenPort = uint16(ln.Addr().(*net.TCPAddr).Port)
	s.mu.Unlock()
	return ln, nil
}

// Run serves peers until ctx ends; ln may be nil.
func (s *Server) Run(ctx context.Context, ln net.Listener) {
	for _, a := range s.cfg.Connect {
		s.learn(a, true)
	}
	if s.book != nil {
		saved, err := s.book.Peers()
		if err != nil {
			s.log.Warn("read peer book", "err", err)
		}
		for _, a := range saved {
			s.learn(a, false)
		}
	}
	if ln != nil {
		s.log.Info("p2p listening", "addr", ln.Addr().String())
		s.wg.Go(func() { s.accept(ctx, ln) })
		context.AfterFunc(ctx, func() { ln.Close() })
	}
	s.wg.Go(func() { s.relay(ctx) })
	s.loop(ctx)

	s.mu.Lock()
	for p := range s.peers {
		p.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// loop dials peers, pings them and runs the consensus round.
func (s *Server) loop(ctx context.Context) {
	dial := time.NewTicker(500 * time.Millisecond)
	defer dial.Stop()
	ping := time.NewTicker(s.cfg.PingInterval)
	defer ping.Stop()
	round := time.NewTicker(s.cfg.ConsensusInterval)
	defer round.Stop()
	measure := time.NewTicker(progressEvery)
	defer measure.Stop()
	s.measureProgress() // the baseline of the first rate
	for {
		s.dialMissing(ctx)
		select {
		case <-ctx.Done():
			return
		case <-dial.C:
		case <-ping.C:
			s.pingAll()
		case <-round.C:
			s.consensusRound()
		case <-measure.C:
			s.measureProgress()
		}
	}
}

func (s *Server) accept(ctx context.Context, ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("p2p accept", "err", err)
			}
			return
		}
		host, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
		s.mu.Lock()
		banned := time.Now().Before(s.bans[host])
		full := s.count(true) >= s.cfg.MaxInbound
		s.mu.Unlock()
		if banned || full {
			conn.Close()
			continue
		}
		s.start(ctx, conn, "")
	}
}

// count returns the number of inbound or outbound peers; s.mu is held.
func (s *Server) count(inbound bool) int {
	n := 0
	for p := range s.peers {
		if p.inbound == inbound {
			n++
		}
	}
	return n
}

// dialMissing connects to known addresses while outbound slots are free.
func (s *Server) dialMissing(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
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
	for p := range s.peers {
		if _, listen, ok := p.identity(); ok {
			linked[listen] = true
		}
	}
	for addr, st := range s.addrs {
		if free <= 0 {
			return
		}
		if st.self || st.connected || linked[addr] || now.Before(st.nextTry) {
			continue
		}
		host, _, _ := net.SplitHostPort(addr)
		if now.Before(s.bans[host]) {
			continue
		}
		st.connected = true // reserved while the dial runs
		free--
		s.wg.Go(func() { s.dial(ctx, addr) })
	}
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
	st.nextTry = time.Now().Add(wait)
	return wait, !ok && (st.failures == 1 || wait > before)
}

// backoff is the wait before the next dial after failures failures in a row.
func backoff(failures int) time.Duration {
	return min(maxBackoff, time.Second<<min(failures, 6))
}

// learn adds a peer address; it reports whether the address is new.
func (s *Server) learn(addr string, pinned bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.addrs[addr]; ok {
		st.pinned = st.pinned || pinned
		return false
	}
	if len(s.addrs) >= maxKnownAddr && !s.evictAddr() {
		return false
	}
	s.addrs[addr] = &addrState{pinned: pinned}
	return true
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
	if until := s.bans[host]; time.Now().Before(until) {
		return fmt.Errorf("%w: %s, until %s", ErrBanned, host, until.Format(time.RFC3339))
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

// evictAddr makes room in a full address table by forgetting an address
// that is not pinned, not ours and not in use, one that failed if there is
// one: a flood of junk addresses then cannot crowd out real peers. s.mu is held.
func (s *Server) evictAddr() bool {
	victim := ""
	for addr, st := range s.addrs {
		if st.pinned || st.self || st.connected {
			continue
		}
		victim = addr
		if st.failures > 0 {
			break
		}
	}
	if victim == "" {
		return false
	}
	delete(s.addrs, victim)
	return true
}

// start runs a connection (dialed is "" for an inbound one): a reader, a
// writer, and our version first.
func (s *Server) start(ctx context.Context, conn net.Conn, dialed string) {
	p := newPeer(conn, dialed)
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
	s.peers[p] = struct{}{}
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
	delete(s.peers, p)
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
		p.lastSeen = time.Now()
		p.mu.Unlock()
		if err := s.handle(ctx, p, m); err != nil {
			s.log.Debug("peer dropped", "addr", p.addr, "err", err)
			return
		}
	}
}

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

// Bans returns the number of bans imposed since start, one per peer banned.
func (s *Server) Bans() uint64 { return s.banCount.Load() }

func (s *Server) tipInfo() wire.TipInfo { return wire.NewTipInfo(s.chain.Tip()) }

func (s *Server) handle(ctx context.Context, p *peer, m wire.Message) error {
	switch m := m.(type) {
	case *wire.MsgVersion:
		return s.onVersion(p, m)
	case *wire.MsgVerAck:
		p.mu.Lock()
		first := p.version != nil && !p.verAcked
		p.verAcked = true
		p.mu.Unlock()
		if !first {
			return errors.New("verack out of order")
		}
		s.onReady(p)
		return nil
	}
	if !p.ready() {
		return fmt.Errorf("%s before the handshake", m.Command())
	}
	switch m := m.(type) {
	case *wire.MsgPing:
		p.setTip(m.Tip)
		p.answer(&wire.MsgPong{MsgPing: wire.MsgPing{Nonce: m.Nonce, Tip: s.tipInfo()}})
		s.maybeSync(p)
	case *wire.MsgPong:
		p.mu.Lock()
		if m.Nonce == p.pingNonce && !p.pingSent.IsZero() {
			p.rtt = time.Since(p.pingSent)
		}
		p.mu.Unlock()
		p.setTip(m.Tip)
		s.maybeSync(p)
	case *wire.MsgGetAddr:
		p.answer(&wire.MsgAddr{Addrs: s.goodAddrs()})
	case *wire.MsgAddr:
		var fresh []wire.NetAddr
		for _, a := range m.Addrs {
			addr := netAddrString(a)
			if addr != "" && sameScope(p.addr, addr) && s.learn(addr, false) {
				fresh = append(fresh, a)
			}
		}
		// New addresses travel on, once: known ones stop here, so gossip
		// ends. Only announcements travel (a few addresses, as onReady sends);
		// a long list answers a getaddr and is for the asker alone.
		if len(fresh) > 0 && len(m.Addrs) <= maxAddrRelay {
			s.broadcast(&wire.MsgAddr{Addrs: fresh}, p)
		}
	case *wire.MsgInv:
		s.onInv(p, m)
	case *wire.MsgGetData:
		var missing []wire.InvItem
		for _, it := range m.Items {
			if obj := s.object(p, it); obj != nil {
				p.answer(obj)
			} else {
				missing = append(missing, it)
			}
		}
		if len(missing) > 0 {
			p.answer(wire.NewMsgNotFound(missing))
		}
	case *wire.MsgNotFound:
	case *wire.MsgGetHeaders:
		p.answer(&wire.MsgHeaders{Headers: s.chain.HeadersAfter(m.Locator, m.Stop, chain.MaxHeaders)})
	case *wire.MsgHeaders:
		s.onHeaders(p, m)
	case *wire.MsgBlock:
		s.onBlock(ctx, p, m.Block)
	case *wire.MsgTx:
		s.onTx(p, m.Tx)
	case *wire.MsgMempool:
		s.answerMempool(p)
	}
	return nil
}

// onInv asks, in one getdata, for the announced blocks we do not have (on
// any branch) and the transactions we want, in the order announced: a
// sender's transactions are then offered to the pool in nonce order.
func (s *Server) onInv(p *peer, m *wire.MsgInv) {
	var want []wire.InvItem
	tip := s.chain.Tip().Hash
	for _, it := range m.Items {
		switch it.Type {
		case wire.InvBlock:
			if !s.chain.Have(it.Hash) {
				want = append(want, it)
			}
			// Nodes announce their tips: one announcing ours has it.
			s.noteTip(p, it.Hash)
		case wire.InvTx:
			p.seen(it.Hash)
			if s.wantTx(it.Hash, tip) {
				want = append(want, it)
			}
		}
	}
	if len(want) > 0 {
		p.send(wire.NewMsgGetData(want))
	}
}

// object is the message that carries an item p asked for, or nil when we
// do not have it.
func (s *Server) object(p *peer, it wire.InvItem) wire.Message {
	switch it.Type {
	case wire.InvBlock:
		if b, err := s.chain.Block(it.Hash); err == nil {
			return &wire.MsgBlock{Block: b}
		}
	case wire.InvTx:
		if tx, ok := s.pool.Get(it.Hash); ok {
			p.seen(it.Hash)
			return &wire.MsgTx{Tx: tx}
		}
	}
	return nil
}

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
	for q := range s.peers {
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

// onReady runs once both versions are acknowledged.
func (s *Server) onReady(p *peer) {
	p.mu.Lock()
	listen := p.listenAddr
	p.mu.Unlock()
	s.log.Info("peer connected", "addr", p.addr, "inbound", p.inbound, "listen", listen, "height", p.tipInfo().Height)
	if listen != "" {
		if s.learn(listen, false) {
			if na, ok := toNetAddr(listen); ok {
				s.broadcast(&wire.MsgAddr{Addrs: []wire.NetAddr{na}}, p)
			}
		}
		if s.book != nil && !p.inbound {
			if err := s.book.PutPeer(listen, time.Now()); err != nil {
				s.log.Warn("save peer", "err", err)
			}
		}
	}
	p.send(&wire.MsgGetAddr{})
	p.send(&wire.MsgMempool{})
	s.maybeSync(p)
	s.notifyPeer("joined", p)
}

// goodAddrs lists addresses worth sharing: those of connected peers first.
func (s *Server) goodAddrs() []wire.NetAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wire.NetAddr
	for p := range s.peers {
		if _, listen, _ := p.identity(); len(out) < wire.MaxAddrs {
			if na, ok := toNetAddr(listen); ok {
				out = append(out, na)
			}
		}
	}
	for addr, st := range s.addrs {
		if na, ok := toNetAddr(addr); ok && !st.self && st.failures == 0 && len(out) < wire.MaxAddrs {
			out = append(out, na)
		}
	}
	return out
}

// broadcast sends m to every ready peer but except.
func (s *Server) broadcast(m wire.Message, except *peer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.peers {
		if p != except && p.ready() {
			p.send(m)
		}
	}
}

// relay announces each new tip to every peer, even one that has the block
// (it sent it to us): the announcement is how a peer learns our tip, for
// agreement. Blocks themselves travel once per peer: only announced blocks
// a node lacks are fetched, and only a node whose tip changed announces, so
// every flood ends. It announces every transaction the pool admits, from
// peers or not, to the peers that have not seen it: a transaction, too,
// travels once per peer.
func (s *Server) relay(ctx context.Context) {
	tips, cancelTips := s.chain.Subscribe()
	defer cancelTips()
	txs, cancelTxs := s.pool.Subscribe()
	defer cancelTxs()
	for {
		select {
		case <-ctx.Done():
			return
		case tx := <-txs:
			batch := waiting(txs, tx)
			s.announceTxs(batch)
			for _, tx := range batch {
				s.adoptOrphan(tx)
			}
		case t := <-tips:
			inv := wire.NewMsgInv([]wire.InvItem{{Type: wire.InvBlock, Hash: t.Hash}})
			s.mu.Lock()
			for p := range s.peers {
				if p.ready() {
					p.send(inv)
				}
			}
			s.mu.Unlock()
		}
	}
}

func (s *Server) pingAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	tip := s.tipInfo()
	for p := range s.peers {
		if !p.ready() {
			continue
		}
		var n [8]byte
		rand.Read(n[:])
		p.mu.Lock()
		p.pingNonce = binary.LittleEndian.Uint64(n[:])
		p.pingSent = time.Now()
		nonce := p.pingNonce
		p.mu.Unlock()
		p.send(&wire.MsgPing{Nonce: nonce, Tip: tip})
	}
}

// consensusRound asks every peer for its tip (the pongs move us to a peer
// with more work) and reports how many share ours.
func (s *Server) consensusRound() {
	s.pingAll()
	agree, total := s.Agreement()
	s.log.Info("consensus round", "height", s.chain.Tip().Height, "agree", agree, "peers", total)
}

// Agreement returns how many ready peers have our tip, and how many are ready.
func (s *Server) Agreement() (agree, total int) { return s.AgreementAt(s.chain.Tip().Hash) }

// AgreementAt is Agreement against tip: a status that shows a height
// reads the agreement at the same tip, not at one that came since.
func (s *Server) AgreementAt(tip chain.Hash) (agree, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.peers {
		if !p.ready() {
			continue
		}
		total++
		if p.tipInfo().Hash == tip {
			agree++
		}
	}
	return agree, total
}

// Peers describes every ready peer.
func (s *Server) Peers() []PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PeerInfo
	for p := range s.peers {
		if p.ready() {
			out = append(out, p.info())
		}
	}
	return out
}

// peerAhead reports whether p has shown more work than our tip has.
func (s *Server) peerAhead(p *peer) bool {
	return p.tipInfo().WorkInt().Cmp(s.chain.Tip().Work) > 0
}

// maybeSync starts syncing from p when it shows more work than our tip and
// no other sync is under way (or the one under way stalled).
func (s *Server) maybeSync(p *peer) {
	if !s.peerAhead(p) {
		return
	}
	s.mu.Lock()
	// Every ping and pong of a peer with more work comes here. While the
	// sync peer still sends what we asked for, asking again would fetch the
	// same headers again, and each full answer asks for the next batch. A
	// getheaders lost to a full queue shows as a ping interval of silence.
	if s.syncPeer != nil {
		quiet := time.Since(s.syncSince)
		if s.syncPeer != p && quiet < syncStall || s.syncPeer == p && s.syncAsked && quiet < s.cfg.PingInterval {
			s.mu.Unlock()
			return
		}
	}
	s.syncPeer, s.syncSince, s.syncAsked = p, time.Now(), true
	s.mu.Unlock()
	p.send(&wire.MsgGetHeaders{Locator: s.locator(nil)})
}

// locator is our main chain's locator, led by extra (the last header a sync
// already asked blocks for), capped at wire.MaxLocator.
func (s *Server) locator(extra *chain.Hash) []chain.Hash {
	loc := s.chain.Locator()
	if extra != nil {
		loc = append([]chain.Hash{*extra}, loc...)
	}
	if len(loc) > wire.MaxLocator {
		loc = append(loc[:wire.MaxLocator-1], loc[len(loc)-1])
	}
	return loc
}

// onHeaders asks for the blocks we lack, in chain order; a full batch means
// the peer has more, so the next headers are asked for after the last.
func (s *Server) onHeaders(p *peer, m *wire.MsgHeaders) {
	var want []wire.InvItem
	for i := range m.Headers {
		if h := m.Headers[i].Hash(); !s.chain.Have(h) {
			want = append(want, wire.InvItem{Type: wire.InvBlock, Hash: h})
		}
	}
	full := len(m.Headers) == chain.MaxHeaders
	s.mu.Lock()
	if s.syncPeer == p {
		s.syncSince = time.Now()
		s.syncAsked = full // a full batch asks for the next below
	}
	s.mu.Unlock()
	if len(want) > 0 {
		p.send(wire.NewMsgGetData(want))
	}
	if full {
		last := m.Headers[len(m.Headers)-1].Hash()
		p.send(&wire.MsgGetHeaders{Locator: s.locator(&last)})
	} else if len(want) == 0 {
		s.mu.Lock()
		if s.syncPeer == p {
			s.syncPeer = nil
		}
		s.mu.Unlock()
	}
}

// noteTip records that p has our tip when h is it; agreement counts on it
// between pings.
func (s *Server) noteTip(p *peer, h chain.Hash) {
	tip := s.tipInfo()
	if tip.Hash != h {
		return
	}
	p.mu.Lock()
	// Never lower a peer's work: a block a peer sends us during a sync is an
	// ancestor of its tip, and taking it for the tip would end the sync.
	if tip.WorkInt().Cmp(p.tip.WorkInt()) >= 0 {
		p.tip = tip
	}
	p.mu.Unlock()
}

func (s *Server) onBlock(ctx context.Context, p *peer, b *chain.Block) {
	h := b.Hash()
	err := s.chain.ProcessBlock(ctx, b)
	s.noteTip(p, h)
	switch chain.Code(err) {
	case "":
		if err != nil {
			s.log.Error("process block from peer", "addr", p.addr, "err", err)
		}
	case chain.ErrDuplicateBlock, chain.ErrTimeTooNew:
		// Relays cross; clocks differ. Neither is the peer's fault.
	case chain.ErrOrphan:
		// The peer is on a chain we lack the start of: ask it where we part.
		p.send(&wire.MsgGetHeaders{Locator: s.locator(nil)})
	default:
		s.misbehave(p, banThreshold, err)
	}
	// A sync ends when we have caught up with its peer's work.
	caughtUp := !s.peerAhead(p)
	s.mu.Lock()
	if s.syncPeer == p {
		s.syncSince = time.Now()
		if caughtUp {
			s.syncPeer = nil
		}
	}
	s.mu.Unlock()
}

// scope classes an address: a peer can only vouch for addresses in its own
// network scope. A loopback peer telling of internet hosts, or an internet
// peer telling of private ones, is either wrong or steering our dials; a
// local devnet must not be led to dial out at all.
func scope(addr string) int {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	switch {
	case err != nil || ip == nil:
		return -1
	case ip.IsLoopback():
		return 0
	case ip.IsPrivate() || ip.IsLinkLocalUnicast():
		return 1
	default:
		return 2
	}
}

// sameScope reports whether a peer at from may tell us of addr.
func sameScope(from, addr string) bool { return scope(from) >= 0 && scope(from) == scope(addr) }

// toNetAddr converts host:port; hosts must be IP literals.
func toNetAddr(addr string) (wire.NetAddr, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return wire.NetAddr{}, false
	}
	ip := net.ParseIP(host)
	n, err := strconv.ParseUint(port, 10, 16)
	if ip == nil || err != nil || n == 0 {
		return wire.NetAddr{}, false
	}
	var na wire.NetAddr
	copy(na.IP[:], ip.To16())
	na.Port = uint16(n)
	na.LastSeen = time.Now().Unix()
	return na, true
}

func netAddrString(a wire.NetAddr) string {
	if a.Port == 0 {
		return ""
	}
	ip := net.IP(a.IP[:])
	if ip.IsUnspecified() {
		return ""
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(a.Port)))
}
