package p2p

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
	"github.com/hashforge/hashforge/mempool"
	"github.com/hashforge/hashforge/p2p/wire"
	"github.com/hashforge/hashforge/store"
)

// This file is the one home of the helpers the tests share: chains on real
// bbolt stores, a regtest block and transfer builder, servers with real
// pools on loopback and a raw peer that speaks the wire protocol by hand, so
// a test can send what a real Server never would.

// magic is the network of every test node but the devnet one that checks
// foreign magic is refused.
var magic = chain.Regtest.Magic

// frameHeaderSize is the size of a frame with no payload: what every
// message costs on the wire beyond its payload.
var frameHeaderSize = len(wire.Frame(magic, "", nil))

// frameOf is m as a node frames it, for tests that alter the bytes before
// sending them.
func frameOf(t testing.TB, m wire.Message) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := wire.WriteMessage(&b, magic, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// testLog discards logs unless P2P_TEST_LOG is set, then debug goes to stderr.
func testLog() *slog.Logger {
	if os.Getenv("P2P_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// openChain loads the chain of network p from the store in dir, writing
// genesis to an empty store; the store closes when the test ends.
func openChain(t testing.TB, p *chain.Params, dir string) (*chain.Chain, *store.Store) {
	t.Helper()
	st, err := store.Open(dir, false)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	ch, err := chain.New(p, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("chain.New: %v", err)
	}
	return ch, st
}

// newChain is a fresh regtest chain holding only genesis.
func newChain(t testing.TB) *chain.Chain {
	t.Helper()
	ch, _ := openChain(t, chain.Regtest, t.TempDir())
	return ch
}

// nextBlock returns an unsolved block on ch's tip: a coinbase paying the
// subsidy and the fees of txs to miner, then txs, the merkle root over
// them, the network's bits and the parent's time plus one second. Two
// chains mining to different addresses grow different branches.
func nextBlock(ch *chain.Chain, miner chain.Address, txs ...*chain.Tx) *chain.Block {
	next, tip := ch.NextBlock(), ch.Tip()
	reward := next.Subsidy
	for _, tx := range txs {
		reward += tx.Fee
	}
	b := &chain.Block{
		Header: chain.Header{
			Version:   1,
			PrevBlock: next.Parent,
			Timestamp: tip.Header.Timestamp + 1,
			Bits:      next.Bits,
		},
		Txs: append([]*chain.Tx{chain.NewCoinbase(next.Height, miner, reward, 0)}, txs...),
	}
	b.Header.MerkleRoot = chain.MerkleRoot(b.TxHashes())
	return b
}

// searchNonce steps the nonce until valid says whether the hash meets the
// target; on regtest about every second nonce meets it.
func searchNonce(t testing.TB, b *chain.Block, valid bool) *chain.Block {
	t.Helper()
	target := chain.CompactToBig(b.Header.Bits)
	for range 1 << 20 {
		if (chain.HashToBig(b.Hash()).Cmp(target) <= 0) == valid {
			return b
		}
		b.Header.Nonce++
	}
	t.Fatalf("no nonce in 2^20 tries for bits %08x", b.Header.Bits)
	return nil
}

// mine builds n valid blocks on ch's tip paying the zero address and
// processes each, as the local miner would; the server announces each new tip.
func mine(t testing.TB, ch *chain.Chain, n int) { mineTo(t, ch, n, chain.Address{}) }

// mineTo is mine paying miner.
func mineTo(t testing.TB, ch *chain.Chain, n int, miner chain.Address) {
	t.Helper()
	for range n {
		mineBlock(t, ch, miner)
	}
}

// copyChain is a new chain holding from's main chain.
func copyChain(t testing.TB, from *chain.Chain) *chain.Chain {
	t.Helper()
	ch := newChain(t)
	for {
		hs := from.HeadersAfter([]chain.Hash{ch.Tip().Hash}, chain.Hash{}, runBlocks)
		if len(hs) == 0 {
			return ch
		}
		run := make([]*chain.Block, len(hs))
		for i, h := range hs {
			b, err := from.Block(h.Hash())
			if err != nil {
				t.Fatal(err)
			}
			run[i] = b
		}
		chaintest.Connect(t, ch, run)
	}
}

// mineBlock builds a valid block carrying txs on ch's tip and processes it.
func mineBlock(t testing.TB, ch *chain.Chain, miner chain.Address, txs ...*chain.Tx) {
	t.Helper()
	b := searchNonce(t, nextBlock(ch, miner, txs...), true)
	if err := ch.ProcessBlock(context.Background(), b); err != nil {
		t.Fatalf("block at height %d: %v", ch.Tip().Height+1, err)
	}
}

// transfer is the faucet's transfer of amount with nonce and memo (nil for
// none), paying the least fee a default pool takes, signed for regtest.
// The faucet holds chain.FaucetAlloc from genesis on.
func transfer(nonce, amount uint64, memo []byte) *chain.Tx {
	tx := &chain.Tx{Kind: chain.TxTransfer, To: chain.Address{0xee}, Amount: amount, Nonce: nonce, Memo: memo}
	tx.Fee = mempool.DefaultConfig().MinFeeRate * uint64(tx.Size())
	tx.Sign(chain.FaucetKey(), chain.Regtest.Magic)
	return tx
}

// transfers are the faucet's transfers of one unit with nonces 0 to n-1.
func transfers(n int) []*chain.Tx {
	txs := make([]*chain.Tx, n)
	for i := range txs {
		txs[i] = transfer(uint64(i), 1, nil)
	}
	return txs
}

// testConfig listens on a free loopback port with timers short enough for
// tests: a silent peer is gone within a second.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.PingInterval = 200 * time.Millisecond
	cfg.IdleTimeout = time.Second
	cfg.ConsensusInterval = 500 * time.Millisecond
	cfg.HandshakeTimeout = time.Second
	cfg.BanDuration = time.Hour
	cfg.TxAnnounceInterval = 50 * time.Millisecond
	return cfg
}

// node is a running Server on loopback.
type node struct {
	*Server
	ch      *chain.Chain
	pool    *mempool.Pool
	addr    string       // listen address, 127.0.0.1:port
	accepts atomic.Int64 // connections the listener accepted
	stop    func()       // ends Run and waits for it; safe to call twice
}

// selfAddr in Config.Connect stands for the node's own listen address,
// which is known only once it listens.
const selfAddr = "self"

// startNode runs a Server for ch, with a pool of its own, until stop or the
// end of the test; book may be nil. The listener is bound before Run, so
// addr is dialable at once.
func startNode(t testing.TB, ch *chain.Chain, book Book, cfg Config) *node {
	t.Helper()
	return startNodeOn(t, ch, book, cfg, testLog(), func(ln net.Listener) net.Listener { return ln })
}

// startNodeOn is startNode logging to log, serving the listener that wrap
// makes of its own.
func startNodeOn(t testing.TB, ch *chain.Chain, book Book, cfg Config, log *slog.Logger, wrap func(net.Listener) net.Listener) *node {
	t.Helper()
	cfg.Connect = append([]string(nil), cfg.Connect...)
	pool := mempool.New(ch, mempool.DefaultConfig(), log)
	s := New(cfg, ch, pool, book, log)
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	n := &node{Server: s, ch: ch, pool: pool, addr: ln.Addr().String()}
	for i, a := range s.cfg.Connect {
		if a == selfAddr {
			s.cfg.Connect[i] = n.addr
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var running sync.WaitGroup
		running.Go(func() { pool.Run(ctx) })
		s.Run(ctx, wrap(&countingListener{Listener: ln, n: &n.accepts}))
		running.Wait()
	}()
	n.stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("Server.Run did not return 10 s after its context ended")
		}
	}
	t.Cleanup(n.stop)
	return n
}

// logLines receives each line a text slog handler writes to it, so a test
// can read what a server logs; lines beyond its buffer are dropped.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	select {
	case l <- string(p):
	default:
	}
	return len(p), nil
}

// countingListener counts accepted connections, so a test sees dials a
// Server makes, even those it drops before any message.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// banned reports whether s bans host.
func (s *Server) banned(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hostBanned(host)
}

// banList is Banned() without reasons and expiries, which tests compare
// apart; nil when empty.
func (s *Server) banList() []BanInfo {
	var out []BanInfo
	for _, b := range s.Banned() {
		out = append(out, BanInfo{Addr: b.Addr, Kind: b.Kind})
	}
	return out
}

// readyPeers is the number of peers past the handshake.
func (s *Server) readyPeers() int {
	_, total := s.Agreement()
	return total
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawPeer speaks the wire protocol by hand over one TCP connection.
type rawPeer struct {
	t     testing.TB
	conn  net.Conn
	magic [4]byte
	tip   wire.TipInfo // as the version announced it; pings carry it
}

// dialRaw connects to addr from the loopback address from ("127.0.0.2":
// Linux routes all of 127/8 to lo), so a ban of a hostile raw peer's host
// leaves 127.0.0.1 free for well-behaved peers of the same server.
func dialRaw(t testing.TB, addr, from string) *rawPeer {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawPeer{t: t, conn: conn, magic: chain.Regtest.Magic}
}

// dialReady is dialRaw and a handshake as a regtest node at genesis that
// does not listen: the raw peer is ready when it returns.
func dialReady(t testing.TB, addr, from string) *rawPeer {
	t.Helper()
	r := dialRaw(t, addr, from)
	r.handshake(rawVersion(chain.Regtest))
	return r
}

func (r *rawPeer) send(m wire.Message) {
	r.t.Helper()
	r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := wire.WriteMessage(r.conn, r.magic, m); err != nil {
		r.t.Fatalf("send %s: %v", m.Command(), err)
	}
}

func (r *rawPeer) write(b []byte) {
	r.t.Helper()
	r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.conn.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// next reads one message, waiting at most d.
func (r *rawPeer) next(d time.Duration) (wire.Message, error) {
	r.conn.SetReadDeadline(time.Now().Add(d))
	return wire.ReadMessage(r.conn, r.magic)
}

// await reads until a message of type T arrives and returns it; others
// (the server's pings, announcements) are skipped.
func await[T wire.Message](r *rawPeer) T {
	r.t.Helper()
	for {
		m, err := r.next(5 * time.Second)
		if err != nil {
			var zero T
			r.t.Fatalf("waiting for %T: %v", zero, err)
		}
		if m, ok := m.(T); ok {
			return m
		}
	}
}

// roundTrip sends a ping (with the peer's tip) and returns every message that arrived before its
// pong. The server handles one peer's messages in order, so whatever it
// sent this peer in answer to messages before the ping comes back here.
func (r *rawPeer) roundTrip() []wire.Message {
	r.t.Helper()
	nonce := randUint64()
	r.send(&wire.MsgPing{Nonce: nonce, Tip: r.tip})
	var before []wire.Message
	for {
		m, err := r.next(5 * time.Second)
		if err != nil {
			r.t.Fatalf("waiting for pong %x: %v", nonce, err)
		}
		if p, ok := m.(*wire.MsgPong); ok && p.Nonce == nonce {
			return before
		}
		if _, ok := m.(*wire.MsgPing); !ok {
			before = append(before, m)
		}
	}
}

// handshake sends v, answers the server's version with verack and waits
// for the server's verack and the getaddr and mempool a server sends every
// new peer.
func (r *rawPeer) handshake(v *wire.MsgVersion) {
	r.t.Helper()
	r.tip = v.Tip
	r.send(v)
	await[*wire.MsgVersion](r)
	r.send(&wire.MsgVerAck{})
	await[*wire.MsgVerAck](r)
	await[*wire.MsgGetAddr](r)
	await[*wire.MsgMempool](r)
}

// closed reads until the server closes the connection or d passes; it
// reports whether the server closed it, and when.
func (r *rawPeer) closed(d time.Duration) (bool, time.Duration) {
	start := time.Now()
	r.conn.SetReadDeadline(start.Add(d))
	buf := make([]byte, 4096)
	for {
		if _, err := r.conn.Read(buf); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout()), time.Since(start)
		}
	}
}

// refused reports whether s's listener closes a new connection from host
// at once, sending nothing: what it does to a banned host.
func refused(t testing.TB, addr, from string) bool {
	t.Helper()
	r := dialRaw(t, addr, from)
	defer r.conn.Close()
	m, err := r.next(2 * time.Second)
	if err == nil {
		if _, ok := m.(*wire.MsgVersion); !ok {
			t.Fatalf("a new connection got %s, want version or nothing", m.Command())
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a new connection got neither a version nor a close in 2 s")
	}
	return true
}

// rawVersion is a version for p's network from a node that does not listen
// and has only genesis.
func rawVersion(p *chain.Params) *wire.MsgVersion {
	genesis := chain.Tip{Hash: p.GenesisHash(), Work: chain.CalcWork(p.Genesis.Header.Bits)}
	return &wire.MsgVersion{Protocol: wire.ProtocolVersion, Genesis: genesis.Hash, NodeID: randUint64(), Tip: wire.NewTipInfo(genesis)}
}

func randUint64() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// proxy relays connections to a node and counts, by command, the messages
// sent toward it and those it sends back: what nodes ask of each other, and
// what they relay, shows on the wire.
type proxy struct {
	addr string
	mu   sync.Mutex
	sent map[string]int // toward the node
	back map[string]int // from the node
	// The commands in the order they went through, each way.
	sentOrder, backOrder []string
}

func startProxy(t testing.TB, to string) *proxy { return startFilterProxy(t, to, nil) }

// startFilterProxy is startProxy passing what the node sends back through
// filter (when not nil), which returns the message to pass on in its
// place, or nil to drop it: a peer that withholds what it is asked for.
func startFilterProxy(t testing.TB, to string, filter func(wire.Message) wire.Message) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	px := &proxy{addr: ln.Addr().String(), sent: make(map[string]int), back: make(map[string]int)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); up.Close() })
			go px.pipe(c, up, px.sent, &px.sentOrder, nil)
			go px.pipe(up, c, px.back, &px.backOrder, filter)
		}
	}()
	return px
}

// pipe passes messages from one end to the other through filter, if any,
// counting them in counts as they arrive, until either end closes; then it
// closes the other.
func (px *proxy) pipe(from, to net.Conn, counts map[string]int, order *[]string, filter func(wire.Message) wire.Message) {
	defer to.Close()
	for {
		m, err := wire.ReadMessage(from, chain.Regtest.Magic)
		if err != nil {
			return
		}
		px.mu.Lock()
		counts[m.Command()]++
		*order = append(*order, m.Command())
		px.mu.Unlock()
		if filter != nil {
			if m = filter(m); m == nil {
				continue
			}
		}
		if wire.WriteMessage(to, chain.Regtest.Magic, m) != nil {
			return
		}
	}
}

// orders returns the commands sent toward the node and back, in order.
func (px *proxy) orders() (sent, back []string) {
	px.mu.Lock()
	defer px.mu.Unlock()
	return slices.Clone(px.sentOrder), slices.Clone(px.backOrder)
}

// count is how many messages of command went through toward the node.
func (px *proxy) count(command string) int { return px.read(px.sent, command) }

// countBack is how many messages of command the node sent back.
func (px *proxy) countBack(command string) int { return px.read(px.back, command) }

func (px *proxy) read(counts map[string]int, command string) int {
	px.mu.Lock()
	defer px.mu.Unlock()
	return counts[command]
}

// nextEvent returns the next peer event, failing the test after 5 s.
func nextEvent(t testing.TB, events <-chan PeerEvent) PeerEvent {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no peer event in 5 s")
		return PeerEvent{}
	}
}

// patientConfig is testConfig with a 10 s idle limit, for a raw peer that
// stays silent while the node works through what it sent: checking
// signatures or digesting a flood under the race detector on a loaded
// machine outlasted the 1 s limit.
func patientConfig() Config {
	cfg := testConfig()
	cfg.IdleTimeout = 10 * time.Second
	return cfg
}

// quietConfig is testConfig without timers that send: no pings, no
// consensus rounds, no idle drops, so what crosses the wire is what the
// test makes cross it.
func quietConfig() Config {
	cfg := testConfig()
	cfg.PingInterval, cfg.ConsensusInterval, cfg.IdleTimeout = time.Hour, time.Hour, time.Hour
	return cfg
}

// The tests run real Servers on loopback with real chains on real stores.
// Well-behaved raw peers connect from 127.0.0.1, hostile ones from
// hostileHost, so a ban (per host) shows on the hostile host alone while the
// server goes on serving the good one.
const hostileHost = "127.0.0.2"

// connect starts a node that dials to, with a fresh chain, and waits until
// both sides finished the handshake.
func connect(t *testing.T, to *node) *node {
	t.Helper()
	cfg := testConfig()
	cfg.Connect = []string{to.addr}
	n := startNode(t, newChain(t), nil, cfg)
	waitFor(t, 5*time.Second, "handshake", func() bool { return n.readyPeers() == 1 })
	return n
}

// waitTip waits until n's tip is want's tip.
func waitTip(t *testing.T, d time.Duration, n, want *node) {
	t.Helper()
	waitFor(t, d, fmt.Sprintf("tip %d of the peer", want.ch.Tip().Height), func() bool {
		return n.ch.Tip().Hash == want.ch.Tip().Hash
	})
}

// waitAgreement waits until every ready peer of each node has its tip.
func waitAgreement(t *testing.T, peers int, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		waitFor(t, 5*time.Second, fmt.Sprintf("agreement (%d, %d)", peers, peers), func() bool {
			agree, total := n.Agreement()
			return agree == peers && total == peers
		})
	}
}
