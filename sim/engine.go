package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"runtime"
	"strconv"
	"time"
)

// Node is one simulated node as the engine drives it. Every call happens
// on the engine's goroutine at the engine's current virtual time; a node
// acts only through env, and only during such a call.
type Node interface {
	// Start is called at time 0, and again when the node restarts after
	// a crash (its store kept, its memory lost: the node's business).
	Start(env Env)
	// Receive: a message from node `from` arrives.
	Receive(env Env, from int, msg Message)
	// Wake: a timer set with env.After fires.
	Wake(env Env, token any)
	// Mine: the mining schedule says this node finds a block now.
	Mine(env Env)
}

// Crasher is implemented by a node that wants to know when it crashes, to
// drop what a real process would lose; the engine calls Crash when the
// node goes down and Start when it comes back.
type Crasher interface {
	Crash()
}

// Misbehaver is implemented by a node that can be made to misbehave by a
// BadBlocks fault: the engine calls Misbehave(true) when the node's first
// such fault in force begins and Misbehave(false) when its last one ends.
// The call may come while the node is down; it only says what the node
// does on the calls that follow.
type Misbehaver interface {
	Misbehave(on bool)
}

// Message is what travels a link: its payload is the node's business; Size
// (bytes) is the link's; Kind ("block", "inv", ...) names it in the event
// log and the report.
type Message struct {
	Payload any
	Size    int
	Kind    string
}

// Env is what a node may do, given to each call.
type Env interface {
	// Now is the virtual time; a run starts at Epoch().
	Now() time.Time
	Self() int
	// Peers are the nodes this node is linked to, sorted; the slice is the
	// engine's and must not be changed.
	Peers() []int
	// Send puts m on the link to node `to` (any node but itself); it may
	// be lost, and arrives after the link's delay.
	Send(to int, m Message)
	// After sets a timer: Wake(token) at Now()+d. A crash cancels it.
	After(d time.Duration, token any)
	// Rand is this node's own source, seeded from the run's seed and the
	// node's index.
	Rand() *rand.Rand
	// Observe records a fact for the report.
	Observe(o Observation)
}

// Epoch is the virtual time at which every run starts, whatever the wall
// clock says, so that runs are byte-identical.
func Epoch() time.Time { return epoch }

var epoch = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// Config is a run of the simulator.
type Config struct {
	Nodes        int      // 100 by default
	PeersPerNode int      // each node dials this many random peers (8)
	Edges        [][2]int // when not nil, the topology instead of random dialling
	// Stop conditions: the run ends when Blocks blocks have been found and
	// then Settle has passed (time for the last block to spread; Interval
	// when 0), at virtual time Duration, when the queue empties, or when
	// the context ends. Blocks and Duration may not both be 0.
	Blocks   int
	Duration time.Duration
	Settle   time.Duration
	Interval time.Duration // mean time between blocks, network-wide
	// TxInterval is the mean time between transactions, network-wide,
	// handed to nodes that are Transactors; 0: none.
	TxInterval time.Duration
	// TxNode is the node every transaction enters the network through, as
	// a wallet sends through its own node; -1 hands each to a random node.
	// ChainNode's transactions are one sender's nonces in sequence, which
	// from random nodes would reach most nodes out of order, each waiting
	// for the one before it.
	TxNode int
	// Manual runs no schedule: blocks and transactions come when a
	// controller asks (Call), and the clock moves when it steps it
	// (RunUntil); the run ends when the controller stops stepping.
	Manual  bool
	Seed    uint64
	Latency LatencyModel // SimBlockRegions() when nil
	Loss    float64      // probability that a message is lost
	// HashPower is each node's share (any scale); when nil, HashDist says:
	// "equal" (or "") or "exponential" (shares drawn exponentially).
	HashPower []float64
	HashDist  string
	Faults    []Fault
	// Check is called at the end with the nodes and which are up; each
	// entry is an invariant, nil when it holds.
	Check func(nodes []Node, up []bool) map[string]error
	// Progress is called after each block found, with the count so far
	// and Blocks.
	Progress func(mined, total int)
}

// DefaultConfig is 100 nodes of 8 peers on SimBlock's regions, 100 blocks
// at one per 10 minutes, seed 1.
func DefaultConfig() Config {
	return Config{
		Nodes:        100,
		PeersPerNode: 8,
		Blocks:       100,
		Interval:     10 * time.Minute,
		Seed:         1,
		Latency:      SimBlockRegions(),
		HashDist:     "equal",
	}
}

// Random streams of a run, each its own PCG sequence from the seed.
const (
	streamSetup  uint64    = iota + 1 // topology, regions, hash shares
	streamLinks                       // latency jitter, loss
	streamMining                      // block times and finders
	streamNodes                       // + node index: each node's Rand
	streamTxs    = 1 << 40            // transaction times and nodes (past every node's stream)
)

func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, splitmix(stream^0x9e3779b97f4a7c15)))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Sim is one run: New sets it up, Run (or Step) drives it.
type Sim struct {
	cfg   Config
	nodes []Node
	envs  []*nodeEnv
	up    []bool
	inc   []uint32 // incarnation of each node: a crash makes its timers stale
	bad   []int    // BadBlocks faults in force on each node
	net   *network
	q     queue
	seq   uint64
	now   time.Duration
	stop  time.Duration // -1: none yet
	done  bool

	digest hash.Hash
	line   []byte
	events int64

	mineRng *rand.Rand
	cum     []float64 // cumulative hash shares
	mined   int
	txRng   *rand.Rand
	txs     int // transactions handed out

	obs  *collector
	msgs map[string]*MessageStats

	wall              time.Duration
	peakHeap, peakSys uint64
}

// New sets up a run of cfg with the nodes newNode makes (called once per
// index, in order).
func New(cfg Config, newNode func(i int) Node) (*Sim, error) {
	if cfg.Nodes <= 0 {
		return nil, errors.New("sim: Nodes must be positive")
	}
	if cfg.Blocks <= 0 && cfg.Duration <= 0 && !cfg.Manual {
		return nil, errors.New("sim: set Blocks or Duration, or the run never ends")
	}
	if cfg.Interval <= 0 && !cfg.Manual {
		return nil, errors.New("sim: Interval must be positive")
	}
	if cfg.Loss < 0 || cfg.Loss > 1 {
		return nil, fmt.Errorf("sim: Loss %v is not a probability", cfg.Loss)
	}
	if cfg.TxNode < -1 || cfg.TxNode >= cfg.Nodes {
		return nil, fmt.Errorf("sim: TxNode %d is not a node of %d", cfg.TxNode, cfg.Nodes)
	}
	if cfg.Latency == nil {
		cfg.Latency = SimBlockRegions()
	}
	if cfg.Settle <= 0 {
		cfg.Settle = cfg.Interval
	}
	n := cfg.Nodes
	setup := newRand(cfg.Seed, streamSetup)
	peers, edges, err := topology(n, cfg.PeersPerNode, cfg.Edges, setup)
	if err != nil {
		return nil, err
	}
	s := &Sim{
		cfg:     cfg,
		nodes:   make([]Node, n),
		envs:    make([]*nodeEnv, n),
		up:      make([]bool, n),
		inc:     make([]uint32, n),
		bad:     make([]int, n),
		stop:    -1,
		digest:  sha256.New(),
		mineRng: newRand(cfg.Seed, streamMining),
		txRng:   newRand(cfg.Seed, streamTxs),
		obs:     newCollector(n),
		msgs:    make(map[string]*MessageStats),
		net: &network{
			model: cfg.Latency,
			peers: peers,
			edges: edges,
			links: make(map[uint64]*link),
			rng:   newRand(cfg.Seed, streamLinks),
			loss:  cfg.Loss,
		},
	}
	s.net.region = cfg.Latency.Place(n, setup)
	if s.cum, err = hashShares(cfg, setup); err != nil {
		return nil, err
	}
	if err := s.setFaults(cfg.Faults); err != nil {
		return nil, err
	}
	for i := range n {
		s.envs[i] = &nodeEnv{s: s, i: i, rng: newRand(cfg.Seed, streamNodes+uint64(i))}
		s.nodes[i] = newNode(i)
		s.up[i] = true
		s.push(event{kind: evStart, from: -1, to: int32(i)})
	}
	for i, f := range cfg.Faults {
		s.push(event{at: f.At, kind: evFault, from: -1, to: -1, arg: int32(i), inc: 1})
		if f.Until > f.At {
			s.push(event{at: f.Until, kind: evFault, from: -1, to: -1, arg: int32(i)})
		}
	}
	if cfg.Duration > 0 {
		s.stop = cfg.Duration
	}
	if !cfg.Manual {
		s.scheduleMine()
		s.scheduleTx()
	}
	return s, nil
}

// Call runs fn on node i now, on the engine's goroutine as every node call
// is: how a controller has a node mine or take a transaction in a Manual
// run. It logs the call into the digest.
func (s *Sim) Call(i int, what string, fn func(n Node, env Env)) {
	s.log("call", -1, i, 0, what)
	fn(s.nodes[i], s.envs[i])
}

func (s *Sim) push(e event) {
	e.seq = s.seq
	s.seq++
	s.q.push(e)
}

// Now is the run's virtual time.
func (s *Sim) Now() time.Time { return epoch.Add(s.now) }

// Node is node i as newNode made it.
func (s *Sim) Node(i int) Node { return s.nodes[i] }

// Done says whether the run has ended.
func (s *Sim) Done() bool { return s.done }

// Step processes the next event; it returns false when the run has ended.
func (s *Sim) Step() bool {
	if s.done {
		return false
	}
	if s.q.len() == 0 {
		s.done = true
		return false
	}
	if s.stop >= 0 && s.q.peek().at > s.stop {
		s.now = s.stop
		s.done = true
		return false
	}
	e := s.q.pop()
	s.now = e.at
	s.events++
	switch e.kind {
	case evStart:
		s.log("start", -1, int(e.to), 0, "")
		s.nodes[e.to].Start(s.envs[e.to])
	case evDeliver:
		s.deliver(&e)
	case evWake:
		if !s.up[e.to] || e.inc != s.inc[e.to] {
			s.log("wake-stale", -1, int(e.to), 0, "")
			break
		}
		s.log("wake", -1, int(e.to), 0, "")
		s.nodes[e.to].Wake(s.envs[e.to], e.token)
	case evMine:
		s.mine()
	case evFault:
		s.fault(int(e.arg), e.inc == 1)
	case evTx:
		s.transact()
	}
	if s.events&(1<<16-1) == 0 {
		s.sampleMemory()
	}
	return true
}

func (s *Sim) stats(kind string) *MessageStats {
	m := s.msgs[kind]
	if m == nil {
		m = &MessageStats{Dropped: map[string]int{}}
		s.msgs[kind] = m
	}
	return m
}

func (s *Sim) send(from, to int, m Message) {
	if to < 0 || to >= len(s.nodes) || to == from {
		panic(fmt.Sprintf("sim: node %d sends to node %d", from, to))
	}
	st := s.stats(m.Kind)
	st.Sent++
	st.Bytes += int64(m.Size)
	if why := s.net.dropAtSend(from, to); why != "" {
		st.Dropped[why]++
		s.log("drop", from, to, m.Size, why+" "+m.Kind)
		return
	}
	at := s.net.arrival(from, to, m.Size, s.now)
	s.push(event{at: at, kind: evDeliver, from: int32(from), to: int32(to), msg: m})
}

func (s *Sim) deliver(e *event) {
	from, to := int(e.from), int(e.to)
	why := ""
	switch {
	case !s.up[to]:
		why = "down"
	case s.net.separated(from, to):
		why = "partition"
	}
	if why != "" {
		s.stats(e.msg.Kind).Dropped[why]++
		s.log("drop", from, to, e.msg.Size, why+" "+e.msg.Kind)
		return
	}
	s.stats(e.msg.Kind).Delivered++
	s.log("deliver", from, to, e.msg.Size, e.msg.Kind)
	s.nodes[to].Receive(s.envs[to], from, e.msg)
}

// log appends an event's canonical line to the digest: virtual time in
// ns, kind, from, to, size, detail.
func (s *Sim) log(kind string, from, to, size int, detail string) {
	b := strconv.AppendInt(s.line[:0], int64(s.now), 10)
	b = append(b, ' ')
	b = append(b, kind...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(from), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(to), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, ' ')
	b = append(b, detail...)
	b = append(b, '\n')
	s.digest.Write(b)
	s.line = b
}

func (s *Sim) sampleMemory() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s.peakHeap = max(s.peakHeap, m.HeapSys)
	s.peakSys = max(s.peakSys, m.Sys)
}

// Run drives the run to its end and reports it. When ctx ends first, it
// returns the report so far with ctx's error.
func (s *Sim) Run(ctx context.Context) (*Report, error) {
	start := time.Now()
	var err error
	for i := 0; ; i++ {
		if i&4095 == 0 {
			if err = ctx.Err(); err != nil {
				break
			}
		}
		if !s.Step() {
			break
		}
	}
	s.wall += time.Since(start)
	s.sampleMemory()
	return s.report(), err
}

// RunUntil processes the events due at or before t and sets the clock to
// t (or to the run's end, if that comes first), as a controller that
// steps the clock needs; it says whether the run goes on. Wall time spent
// here (or in Step) is not counted in events per second.
func (s *Sim) RunUntil(t time.Time) bool {
	target := t.Sub(epoch)
	for !s.done && s.q.len() > 0 && s.q.peek().at <= target {
		s.Step()
	}
	if !s.done && target > s.now {
		if s.stop >= 0 && target > s.stop {
			target, s.done = s.stop, true
		}
		s.now = target
	}
	return !s.done
}

// Report reports the run so far; Config.Check looks at the nodes as they
// are now.
func (s *Sim) Report() *Report { return s.report() }

// Run sets up a run of cfg and drives it to its end.
func Run(ctx context.Context, cfg Config, newNode func(i int) Node) (*Report, error) {
	s, err := New(cfg, newNode)
	if err != nil {
		return nil, err
	}
	return s.Run(ctx)
}

// nodeEnv is a node's Env.
type nodeEnv struct {
	s   *Sim
	i   int
	rng *rand.Rand
}

func (e *nodeEnv) Now() time.Time         { return epoch.Add(e.s.now) }
func (e *nodeEnv) Self() int              { return e.i }
func (e *nodeEnv) Peers() []int           { return e.s.net.peers[e.i] }
func (e *nodeEnv) Send(to int, m Message) { e.s.send(e.i, to, m) }
func (e *nodeEnv) Rand() *rand.Rand       { return e.rng }
func (e *nodeEnv) Observe(o Observation)  { e.s.observe(e.i, o) }

func (e *nodeEnv) After(d time.Duration, token any) {
	s := e.s
	s.push(event{at: s.now + max(d, 0), kind: evWake, from: -1, to: int32(e.i), inc: s.inc[e.i], token: token})
}

func (s *Sim) observe(node int, o Observation) {
	s.log("obs", node, -1, o.Depth, o.line())
	s.obs.add(node, s.now, o)
}

func digestHex(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
