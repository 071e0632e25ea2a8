package sim

import (
	"fmt"
	"time"
)

// Test doubles of a node: the engine is the unit under test, so these
// nodes are as small as the tests allow. None of them is the node's code.

// testBlock is a flooding node's block.
type testBlock struct {
	id, parent string
	height     int
}

// floodNode floods each block it has not seen to all its peers once, and
// follows the longest chain it knows (first seen on a tie), reporting what
// it sees as a real node would.
type floodNode struct {
	size   int // bytes of a block message
	blocks map[string]*testBlock
	tip    *testBlock
	found  int
}

func newFlood(size int) func(int) Node {
	return func(int) Node { return &floodNode{size: size} }
}

func (n *floodNode) Start(env Env) {
	if n.blocks == nil {
		n.blocks = map[string]*testBlock{}
	}
}

func (n *floodNode) Wake(Env, any) {}

func (n *floodNode) Mine(env Env) {
	b := &testBlock{id: fmt.Sprintf("n%d-%d", env.Self(), n.found), height: 1}
	n.found++
	if n.tip != nil {
		b.parent, b.height = n.tip.id, n.tip.height+1
	}
	env.Observe(Observation{Kind: BlockMined, Block: b.id, Parent: b.parent})
	n.accept(env, b, -1)
}

func (n *floodNode) Receive(env Env, from int, m Message) {
	b := m.Payload.(*testBlock)
	if n.blocks[b.id] != nil {
		return
	}
	env.Observe(Observation{Kind: BlockSeen, Block: b.id})
	n.accept(env, b, from)
}

func (n *floodNode) accept(env Env, b *testBlock, from int) {
	n.blocks[b.id] = b
	if n.tip == nil || b.height > n.tip.height {
		if n.tip != nil && b.parent != n.tip.id {
			// Depth: blocks of the old chain not on the new one.
			depth := 0
			old := n.tip
			anc := map[string]bool{}
			for x := n.blocks[b.parent]; x != nil; x = n.blocks[x.parent] {
				anc[x.id] = true
			}
			for x := old; x != nil && !anc[x.id]; x = n.blocks[x.parent] {
				depth++
			}
			env.Observe(Observation{Kind: Reorg, Depth: depth})
		}
		n.tip = b
		env.Observe(Observation{Kind: TipChanged, Block: b.id})
	}
	for _, p := range env.Peers() {
		if p != from {
			env.Send(p, Message{Payload: b, Size: n.size, Kind: "block"})
		}
	}
}

// delivery is one message a recorder received.
type delivery struct {
	from int
	at   time.Duration
	seq  int
}

// tickNode sends a numbered "tick" to every peer each period, and records
// what it receives, its timers and its starts.
type tickNode struct {
	period   time.Duration
	sent     int
	gen      int // starts so far: a timer's token carries the start it was set in
	got      []delivery
	starts   []time.Duration
	crashes  int
	mines    []time.Duration
	badWakes int // timers that fired from before a crash
}

func (n *tickNode) Start(env Env) {
	n.gen++
	n.starts = append(n.starts, env.Now().Sub(Epoch()))
	env.After(n.period, n.gen)
}

func (n *tickNode) Crash() { n.crashes++ }

func (n *tickNode) Wake(env Env, token any) {
	if token.(int) != n.gen {
		n.badWakes++
	}
	for _, p := range env.Peers() {
		env.Send(p, Message{Payload: n.sent, Size: 100, Kind: "tick"})
		n.sent++
	}
	env.After(n.period, n.gen)
}

func (n *tickNode) Receive(env Env, from int, m Message) {
	n.got = append(n.got, delivery{from: from, at: env.Now().Sub(Epoch()), seq: m.Payload.(int)})
}

func (n *tickNode) Mine(env Env) { n.mines = append(n.mines, env.Now().Sub(Epoch())) }

// burstNode sends count numbered messages to node 1 at start (node 0
// only), and records what arrives.
type burstNode struct {
	count int
	got   []delivery
}

func (n *burstNode) Start(env Env) {
	if env.Self() != 0 {
		return
	}
	for i := range n.count {
		env.Send(1, Message{Payload: i, Size: 100 + 1000*(i%7), Kind: "burst"})
	}
}
func (n *burstNode) Wake(Env, any) {}
func (n *burstNode) Mine(Env)      {}
func (n *burstNode) Receive(env Env, from int, m Message) {
	n.got = append(n.got, delivery{from: from, at: env.Now().Sub(Epoch()), seq: m.Payload.(int)})
}
