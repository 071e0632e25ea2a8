package sim

import (
	"strconv"
	"time"
)

// ObsKind names a fact a node reports.
type ObsKind uint8

const (
	// BlockMined: this node found Block on Parent (and holds it). The
	// engine counts the block as seen by its finder at this instant.
	BlockMined ObsKind = iota + 1
	// BlockSeen: this node has Block for the first time (received and
	// accepted). Later reports of the same block by the node are ignored.
	BlockSeen
	// TipChanged: this node's best tip is now Block. The last report of
	// each node names its final tip, from which the engine takes the final
	// main chain (the tip most nodes that are up agree on).
	TipChanged
	// Reorg: this node disconnected Depth blocks to change its tip.
	Reorg
	// TxSubmitted: transaction Tx entered the network at this node.
	TxSubmitted
	// TxConfirmed: this node has Tx in a block of its main chain; the
	// first report of a Tx by any node ends its confirmation time.
	TxConfirmed
	// Note: free text for the event log (Detail), e.g. a peer banned.
	Note
	// InvalidSent: this misbehaving node sent its peers Block, which
	// breaks the consensus rule Detail names. It is no block of the run's:
	// the engine only counts it.
	InvalidSent
)

var obsNames = [...]string{"", "mined", "seen", "tip", "reorg", "tx", "confirmed", "note", "invalid"}

func (k ObsKind) String() string {
	if int(k) < len(obsNames) && k > 0 {
		return obsNames[k]
	}
	return "obs(" + strconv.Itoa(int(k)) + ")"
}

// Observation is a fact a node reports through Env.Observe; the engine
// stamps it with the node and the virtual time. Blocks and transactions
// are named by the node (a hash in hex, say): the engine only compares
// the names.
type Observation struct {
	Kind   ObsKind
	Block  string
	Parent string
	Tx     string
	Depth  int
	Detail string
}

func (o Observation) line() string {
	s := o.Kind.String()
	for _, f := range [...]string{o.Block, o.Parent, o.Tx, o.Detail} {
		if f != "" {
			s += " " + f
		}
	}
	return s
}

// blockRec is what the engine knows of a block found in the run.
type blockRec struct {
	id, parent string
	miner      int
	mined      time.Duration
	height     int
	delays     []time.Duration // first-seen delays of the other nodes, in arrival order
	seenBy     []uint64        // bitset of nodes that have it, the finder included
}

// heal is a partition's end and when all nodes up next shared one tip.
type heal struct {
	at, converged time.Duration
	done          bool
}

// collector turns observations into what the report needs, as they come.
type collector struct {
	n        int
	blocks   []*blockRec // in the order they were found
	byID     map[string]*blockRec
	mineAt   []time.Duration // each Mine call
	tip      []string        // each node's last TipChanged; "" when down, misbehaving or none
	tipCount map[string]int  // nodes up on each tip
	upCount  int             // nodes up, the misbehaving left out
	reorgs   map[int]int
	txSub    map[string]time.Duration
	txDone   map[string]bool
	txConf   []time.Duration
	unknown  int // BlockSeen of blocks no node reported found
	invalid  int // InvalidSent
	heals    []heal
	// bad marks the nodes that misbehaved: their peers cut them off, and
	// their tips would hold back convergence and the final tip's count.
	bad []bool
}

func newCollector(n int) *collector {
	return &collector{
		n:        n,
		byID:     make(map[string]*blockRec),
		tip:      make([]string, n),
		bad:      make([]bool, n),
		tipCount: make(map[string]int),
		upCount:  n,
		reorgs:   make(map[int]int),
		txSub:    make(map[string]time.Duration),
		txDone:   make(map[string]bool),
	}
}

func (c *collector) mineCalled(now time.Duration) { c.mineAt = append(c.mineAt, now) }

func (c *collector) add(node int, now time.Duration, o Observation) {
	switch o.Kind {
	case BlockMined:
		if c.byID[o.Block] != nil {
			return
		}
		b := &blockRec{id: o.Block, parent: o.Parent, miner: node, mined: now, height: 1,
			seenBy: make([]uint64, (c.n+63)/64)}
		if p := c.byID[o.Parent]; p != nil {
			b.height = p.height + 1
		}
		b.seenBy[node/64] |= 1 << (node % 64)
		c.blocks = append(c.blocks, b)
		c.byID[o.Block] = b
	case BlockSeen:
		b := c.byID[o.Block]
		if b == nil {
			c.unknown++
			return
		}
		if b.seenBy[node/64]&(1<<(node%64)) != 0 {
			return
		}
		b.seenBy[node/64] |= 1 << (node % 64)
		b.delays = append(b.delays, now-b.mined)
	case TipChanged:
		if c.bad[node] {
			return
		}
		if old := c.tip[node]; old != "" {
			c.tipCount[old]--
		}
		c.tip[node] = o.Block
		if o.Block != "" {
			c.tipCount[o.Block]++
		}
		c.converge(now)
	case Reorg:
		c.reorgs[o.Depth]++
	case InvalidSent:
		c.invalid++
	case TxSubmitted:
		if _, ok := c.txSub[o.Tx]; !ok {
			c.txSub[o.Tx] = now
		}
	case TxConfirmed:
		at, ok := c.txSub[o.Tx]
		if ok && !c.txDone[o.Tx] {
			c.txDone[o.Tx] = true
			c.txConf = append(c.txConf, now-at)
		}
	}
}

// down: a node crashed; its tip no longer counts.
func (c *collector) down(node int, now time.Duration) {
	if c.bad[node] {
		return
	}
	c.forget(node)
	c.upCount--
	c.converge(now)
}

func (c *collector) upAgain(node int) {
	if !c.bad[node] {
		c.upCount++
	}
}

// misbehaves: a node, up or not, misbehaves from now on; its tip counts
// no more.
func (c *collector) misbehaves(node int, up bool, now time.Duration) {
	if c.bad[node] {
		return
	}
	c.bad[node] = true
	c.forget(node)
	if up {
		c.upCount--
	}
	c.converge(now)
}

// forget takes node's tip out of the count.
func (c *collector) forget(node int) {
	if t := c.tip[node]; t != "" {
		c.tipCount[t]--
		c.tip[node] = ""
	}
}

func (c *collector) healed(now time.Duration) {
	c.heals = append(c.heals, heal{at: now})
	c.converge(now)
}

// converge marks the pending heals converged when every node up reports
// the same tip.
func (c *collector) converge(now time.Duration) {
	if len(c.heals) == 0 || c.heals[len(c.heals)-1].done {
		return
	}
	agreed := false
	for i := range c.tip {
		if t := c.tip[i]; t != "" {
			agreed = c.tipCount[t] == c.upCount
			break
		}
	}
	if !agreed {
		return
	}
	for i := len(c.heals) - 1; i >= 0 && !c.heals[i].done; i-- {
		c.heals[i].done = true
		c.heals[i].converged = now
	}
}
