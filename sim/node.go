package sim

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/mempool"
	"github.com/hashforge/hashforge/miner"
	"github.com/hashforge/hashforge/p2p"
	"github.com/hashforge/hashforge/p2p/wire"
	"github.com/hashforge/hashforge/store"
	"github.com/hashforge/hashforge/wallet"
)

// ChainNode is a simulated node made of the node's own parts, each on the
// engine's clock: chain validates blocks and chooses among branches on a
// store in memory, mempool admits and orders transactions, miner.Templates
// builds blocks, and the peer layer (p2p) decides every message, sync and
// ban. The node itself decides nothing: it carries. It hands each message
// that arrives to its peer layer, puts on the links what the layer queued,
// tells the layer of its chain's new tips and its mempool's admissions, and
// fires the layer's timers: what p2p.Server.Run's goroutines do over TCP.
type ChainNode struct {
	index  int
	params *chain.Params
	store  *store.Memory // kept across a crash; everything else is lost
	life   uint32        // counts the node's starts: a connection's end is one life's
	payTo  chain.Address
	now    time.Time // the engine's, at the call in progress
	log    *slog.Logger

	chain *chain.Chain
	pool  *mempool.Pool
	tmpl  *miner.Templates
	peers *p2p.Server
	links map[int]*p2p.Link
	lives map[int]uint32 // the life of each linked node its link is with; 0: not known yet
	order []int          // the linked nodes, sorted: the order links are drained in
	tips  <-chan chain.Tip
	txs   <-chan *chain.Tx
	stop  []func()
	tip   chain.Tip
	// downloadAt and announceAt are when the download and announcement
	// timers set last fire; zero: none set.
	downloadAt, announceAt time.Time
	// announce is the peer layer's TxAnnounceInterval.
	announce time.Duration

	// Misbehaviour (misbehave.go): whether a BadBlocks fault is in force on
	// the node, whether one ever was, and the invalid blocks it sent. Kept
	// across a crash: they are the run's record of an attacker.
	misbehaving, misbehaved bool
	invalid                 []chain.Hash
	// arrived is what CheckNodes asks of an honest node (check.go): the
	// blocks from peers, in this life, that its chain did not take.
	arrived []arrival
}

// The timers a node sets with Env.After.
type timer int

const (
	timerPing timer = iota
	timerRound
	timerDownload
	timerAnnounce
)

// sigCache is every simulated node's signature cache: whether a transfer's
// signature verifies depends on its bytes alone, so the nodes share what
// one of them checked, and a run checks each transfer once instead of
// twice a node. It changes no decision, only the time a run takes.
var sigCache = chain.NewSigCache(1 << 20)

// frame is what travels a link: an encoded wire message, and the lives of
// the connection's two ends. A link of the simulator is no TCP connection,
// which a crash resets: the lives tell a message of a connection from
// before a restart, which the receiver drops as the reset would have.
type frame struct {
	from, to uint32 // the sender's life, the life of the receiver it sends to (0: not known yet)
	b        []byte
}

// listenPort is the port every simulated node listens on, in its version
// messages and its address.
const listenPort = 18999

// nodeAddr is node i's address as its peers know it: one host a node.
func nodeAddr(i int) string {
	return fmt.Sprintf("10.%d.%d.%d:%d", i>>16&0xff, i>>8&0xff, i&0xff, listenPort)
}

// NewChainNode returns node i of a regtest network, its coinbase paying an
// address of its own.
func NewChainNode(i int) *ChainNode {
	var payTo chain.Address
	binary.BigEndian.PutUint32(payTo[:], uint32(i)+1)
	return &ChainNode{
		index: i, params: chain.Regtest, store: store.NewMemory(), payTo: payTo, log: slog.New(slog.DiscardHandler),
		announce: p2p.DefaultConfig().TxAnnounceInterval,
	}
}

func (n *ChainNode) clock() time.Time { return n.now }

// Start builds the node's parts on its store (empty at first, as a crash
// left it after) and links it to its peers.
func (n *ChainNode) Start(env Env) {
	n.now = env.Now()
	n.life++
	var err error
	if n.chain, err = chain.New(n.params, n.store, n.log, chain.WithClock(n.clock), chain.WithSigCache(sigCache)); err != nil {
		panic(fmt.Sprintf("sim: node %d: load its chain: %v", n.index, err)) // a store in memory cannot fail
	}
	poolCfg := mempool.DefaultConfig()
	poolCfg.Clock, poolCfg.SigCache = n.clock, sigCache
	n.pool = mempool.New(n.chain, poolCfg, n.log)
	n.tmpl = miner.NewTemplates(n.chain, n.pool, n.log)
	cfg := p2p.DefaultConfig()
	cfg.MaxInbound = 1 << 10 // the engine's topology, not eviction, decides who is linked
	cfg.Clock, cfg.Random = n.clock, randReader{env.Rand()}
	cfg.TxAnnounceInterval = n.announce
	n.peers = p2p.New(cfg, n.chain, n.pool, n.store, n.log)
	n.peers.SetListenPort(listenPort)
	var cancelTips, cancelTxs func()
	n.tips, cancelTips = n.chain.Subscribe()
	n.txs, cancelTxs = n.pool.Subscribe()
	n.stop = []func(){cancelTips, cancelTxs}
	n.tip = n.chain.Tip()
	n.links = make(map[int]*p2p.Link)
	n.lives = make(map[int]uint32)
	n.order = append(n.order[:0], env.Peers()...)
	for _, j := range n.order {
		// The lower index dials: each link has one outbound end.
		n.links[j] = n.peers.Attach(nodeAddr(j), n.index < j)
	}
	n.downloadAt, n.announceAt = time.Time{}, time.Time{}
	n.arrived = nil // the peer layer's discouragements are gone too
	env.After(cfg.PingInterval, timerPing)
	env.After(cfg.ConsensusInterval, timerRound)
	n.flush(env)
}

// Crash drops everything but the store, as a killed process does.
func (n *ChainNode) Crash() {
	for _, f := range n.stop {
		f()
	}
	n.chain, n.pool, n.tmpl, n.peers, n.links, n.lives, n.stop = nil, nil, nil, nil, nil, nil, nil
}

// Receive hands a message from node `from` to the peer layer.
func (n *ChainNode) Receive(env Env, from int, msg Message) {
	n.now = env.Now()
	ctx := context.Background()
	f := msg.Payload.(frame)
	known := n.lives[from]
	switch {
	case f.to != 0 && f.to != n.life, f.from < known:
		return // sent to or from a life before a restart: the connection is gone
	case known != 0 && f.from > known:
		// The peer restarted: its messages are a new connection's.
		if l := n.links[from]; l != nil {
			l.Close()
		}
		n.links[from] = n.peers.Attach(nodeAddr(from), false)
	}
	n.lives[from] = f.from
	m, err := wire.ReadMessage(bytes.NewReader(f.b), n.params.Magic)
	if err != nil {
		env.Observe(Observation{Kind: Note, Detail: fmt.Sprintf("node %d: undecodable %s from %d: %v", n.index, msg.Kind, from, err)})
		return
	}
	l := n.links[from]
	if l == nil || l.Closed() {
		return // a connection this node dropped
	}
	ready := l.Ready() // before its handshake, a peer's block is a slip, not an attack
	l.Deliver(ctx, m)
	n.download(env)
	if blk, ok := m.(*wire.MsgBlock); ok {
		// A block counts as spread to this node once the node holds it,
		// on any branch: a block that wins a race only when the next one
		// comes is not propagated at that later time.
		if h := blk.Block.Hash(); n.chain.Have(h) {
			env.Observe(Observation{Kind: BlockSeen, Block: h.String()})
		} else if ready {
			n.noteArrival(from, h)
		}
	}
	n.flush(env)
}

// Wake fires one of the peer layer's timers.
func (n *ChainNode) Wake(env Env, token any) {
	n.now = env.Now()
	switch token {
	case timerPing:
		n.peers.Ping()
		env.After(p2p.DefaultConfig().PingInterval, timerPing)
	case timerRound:
		n.peers.ConsensusRound()
		env.After(p2p.DefaultConfig().ConsensusInterval, timerRound)
	case timerDownload:
		timerFired(env, &n.downloadAt)
		n.download(env)
	case timerAnnounce:
		timerFired(env, &n.announceAt)
	}
	n.flush(env)
}

// faucet signs the run's transactions: the regtest genesis funds it, and
// the n-th transaction of the run is its nonce n, so that whichever node
// takes it, the sequence is one sender's.
var faucet = wallet.NewSigner(chain.FaucetKey(), chain.Regtest)

// txFee pays the least fee rate on a transfer without a memo.
const txFee = 1000

// payees is how many accounts the faucet's transfers pay, in turn: a
// network's state grows with its accounts, not its transfers, and each
// node keeps all of it.
const payees = 1000

// Transact makes the run's n-th transaction, a transfer from the faucet,
// and offers it to the node's mempool, as a wallet sending through this
// node would; the peer layer relays it like any other.
func (n *ChainNode) Transact(env Env, seq int) {
	var to chain.Address
	binary.BigEndian.PutUint64(to[12:], uint64(seq%payees)+1)
	n.Submit(env, faucet.Transfer(to, chain.Coin, txFee, uint64(seq), nil))
}

// Submit offers tx to the node's mempool, as a wallet sending through this
// node does, and returns the pool's refusal, if any. A transfer refused for
// a nonce gap waits with the orphans until the one before it arrives; the
// peer layer relays it like any other once admitted.
func (n *ChainNode) Submit(env Env, tx *chain.Tx) error {
	n.now = env.Now()
	env.Observe(Observation{Kind: TxSubmitted, Tx: tx.Hash().String()})
	err := n.pool.Add(tx)
	var refusal *mempool.RejectError
	if errors.As(err, &refusal) && refusal.NonceGap() {
		n.peers.Offer(tx)
	}
	n.flush(env)
	return err
}

// download runs the peer layer's block download and sets its timer for
// when it asks, unless one set already fires sooner.
func (n *ChainNode) download(env Env) {
	setTimer(env, &n.downloadAt, n.peers.Download(context.Background()), timerDownload)
}

// timerFired clears *at once the timer set for it has fired; an earlier
// timer of the same kind, overtaken by a sooner one, leaves it set.
func timerFired(env Env, at *time.Time) {
	if !env.Now().Before(*at) {
		*at = time.Time{}
	}
}

// setTimer sets the timer that fires at *at to fire after wait (0: no need),
// unless it is set to fire sooner already.
func setTimer(env Env, at *time.Time, wait time.Duration, t timer) {
	if wait == 0 {
		return
	}
	if when := env.Now().Add(wait); at.IsZero() || when.Before(*at) {
		*at = when
		env.After(wait, t)
	}
}

// Mine finds a block now: the miner's template on the tip, its nonce
// ground at the network's (regtest's) difficulty, handed to the chain as
// any mined block is. A misbehaving node breaks the template instead
// (sendInvalid).
func (n *ChainNode) Mine(env Env) {
	n.now = env.Now()
	ctx := context.Background()
	b, err := n.tmpl.BlockTemplate(ctx, n.payTo)
	if err != nil {
		env.Observe(Observation{Kind: Note, Detail: fmt.Sprintf("node %d: no template: %v", n.index, err)})
		return
	}
	if n.misbehaving {
		n.sendInvalid(env, b)
		return
	}
	solve(b)
	if err := n.chain.ProcessBlock(ctx, b); err != nil {
		env.Observe(Observation{Kind: Note, Detail: fmt.Sprintf("node %d: mined block refused: %v", n.index, err)})
		return
	}
	env.Observe(Observation{Kind: BlockMined, Block: b.Hash().String(), Parent: b.Header.PrevBlock.String()})
	n.flush(env)
}

// solve grinds b's nonce until its hash meets its bits: at regtest's
// difficulty, a few tries.
func solve(b *chain.Block) {
	target := chain.CompactToBig(b.Header.Bits)
	for chain.HashToBig(b.Hash()).Cmp(target) > 0 {
		b.Header.Nonce++
	}
}

// flush does what the TCP driver's goroutines do after a message: tell the
// peer layer of new tips and admissions, then put on each link, in the
// order of the linked nodes, what the layer queued for it.
func (n *ChainNode) flush(env Env) {
	// Tips, then admissions, each channel to its end: a select would pick
	// among ready channels at random, and the order of what the layer
	// announces would change from run to run.
	for more := true; more; {
		more = false
		for t, ok := next(n.tips); ok; t, ok = next(n.tips) {
			n.newTip(env, t)
			n.peers.NewTip(t)
			more = true
		}
		for tx, ok := next(n.txs); ok; tx, ok = next(n.txs) {
			n.peers.Admitted([]*chain.Tx{tx})
			more = true
		}
	}
	setTimer(env, &n.announceAt, n.peers.Trickle(), timerAnnounce)
	// A broadcast queues one message for every link: it is encoded once.
	var encoded map[wire.Message][]byte
	for _, j := range n.order {
		l := n.links[j]
		if l.Closed() {
			l.Close()
		}
		for _, m := range l.Sent() {
			b, ok := encoded[m]
			if !ok {
				b = n.encode(m)
				if encoded == nil {
					encoded = make(map[wire.Message][]byte)
				}
				encoded[m] = b
			}
			n.send(env, j, m.Command(), b)
		}
	}
}

// encode is m as it travels a link.
func (n *ChainNode) encode(m wire.Message) []byte {
	var buf bytes.Buffer
	wire.WriteMessage(&buf, n.params.Magic, m)
	return buf.Bytes()
}

// send puts b, an encoded cmd, on the link to node j, on this life's
// connection to j's.
func (n *ChainNode) send(env Env, j int, cmd string, b []byte) {
	env.Send(j, Message{Payload: frame{from: n.life, to: n.lives[j], b: b}, Size: len(b), Kind: cmd})
}

// next takes what ch holds without waiting.
func next[T any](ch <-chan T) (T, bool) {
	if len(ch) == 0 {
		var zero T
		return zero, false // most calls, at less than a select's cost
	}
	select {
	case v := <-ch:
		return v, true
	default:
		var zero T
		return zero, false
	}
}

// newTip reports a tip change: every block new on the main chain as seen
// now, and the depth of a reorganisation.
func (n *ChainNode) newTip(env Env, t chain.Tip) {
	old := n.tip
	n.tip = t
	if t.Hash == old.Hash {
		return
	}
	// Walk both tips back to their fork: the blocks between it and the
	// new tip are new to the main chain. Each is read once.
	block := func(h chain.Hash) *chain.Block {
		b, err := n.chain.Block(h)
		if err != nil {
			panic(fmt.Sprintf("sim: node %d: block %s of its main chain: %v", n.index, h, err))
		}
		return b
	}
	a, ah, b, bh := old.Hash, old.Height, t.Hash, t.Height
	var fresh []*chain.Block
	take := func() {
		blk := block(b)
		fresh, b = append(fresh, blk), blk.Header.PrevBlock
	}
	for ; bh > ah; bh-- {
		take()
	}
	depth := 0
	for ; ah > bh; ah-- {
		a, depth = block(a).Header.PrevBlock, depth+1
	}
	for a != b {
		take()
		a, depth = block(a).Header.PrevBlock, depth+1
	}
	if depth > 0 {
		env.Observe(Observation{Kind: Reorg, Depth: depth})
	}
	for _, blk := range fresh {
		env.Observe(Observation{Kind: BlockSeen, Block: blk.Hash().String()})
		for _, tx := range blk.Txs[1:] {
			env.Observe(Observation{Kind: TxConfirmed, Tx: tx.Hash().String()})
		}
	}
	env.Observe(Observation{Kind: TipChanged, Block: t.Hash.String()})
}

// randReader reads a node's seeded source as bytes: the peer layer's node
// ID, ping nonces and shuffles.
type randReader struct{ r *rand.Rand }

func (r randReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(r.r.Uint32())
	}
	return len(b), nil
}
