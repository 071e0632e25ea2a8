package sim

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// attackers are the misbehaving nodes of badNet.
var attackers = []int{4, 17}

// badNet is a run of 24 nodes in which the attackers send invalid blocks
// from 30 s to 400 s, with six times an honest node's hash power, so
// that each finds a few blocks in that time (under seed 1, blocks of
// every rule the attacker breaks); a partition follows.
func badNet(seed uint64) Config {
	cfg := smallNet(seed)
	cfg.Nodes, cfg.PeersPerNode, cfg.Blocks = 24, 4, 30
	cfg.HashPower = make([]float64, cfg.Nodes)
	for i := range cfg.HashPower {
		cfg.HashPower[i] = 1
	}
	for _, a := range attackers {
		cfg.HashPower[a] = 6
	}
	cfg.Faults = []Fault{
		{Kind: BadBlocks, At: 30 * time.Second, Until: 400 * time.Second, Nodes: attackers},
		{Kind: Partition, At: 420 * time.Second, Until: 480 * time.Second, Groups: Halves(cfg.Nodes)},
	}
	return cfg
}

func newChainNode(i int) Node { return NewChainNode(i) }

// switchNode records what the engine tells it of its misbehaviour.
type switchNode struct {
	burstNode
	told []bool
}

func (n *switchNode) Misbehave(on bool) { n.told = append(n.told, on) }

// The engine tells a node of its misbehaviour when its first BadBlocks
// fault in force begins and its last one ends, down or not, and the report
// names the nodes; a fault of no node is refused.
func TestMisbehave(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Blocks, cfg.Duration, cfg.Interval = 4, 0, time.Minute, time.Hour
	cfg.Faults = []Fault{
		{Kind: BadBlocks, At: 10 * time.Second, Until: 30 * time.Second, Nodes: []int{1}},
		{Kind: BadBlocks, At: 20 * time.Second, Until: 40 * time.Second, Nodes: []int{1, 3}},
		{Kind: Crash, At: 5 * time.Second, Until: 50 * time.Second, Nodes: []int{3}},
		{Kind: BadBlocks, At: 45 * time.Second, Nodes: []int{2}},
	}
	nodes := make([]*switchNode, cfg.Nodes)
	s, r := run(t, cfg, func(i int) Node { nodes[i] = &switchNode{}; return nodes[i] })
	for i, want := range [][]bool{nil, {true, false}, {true}, {true, false}} {
		if !slices.Equal(nodes[i].told, want) {
			t.Errorf("node %d told %v, want %v", i, nodes[i].told, want)
		}
	}
	if !slices.Equal(r.Misbehaving, []int{1, 2, 3}) || s.bad[2] != 1 {
		t.Errorf("misbehaving nodes %v, faults in force at the end %v", r.Misbehaving, s.bad)
	}
	cfg.Faults = []Fault{{Kind: BadBlocks, At: time.Second}}
	if _, err := New(cfg, newFlood(1)); err == nil || !strings.Contains(err.Error(), "bad-blocks fault of no node") {
		t.Errorf("a BadBlocks fault of no node: %v", err)
	}
}

// Two of 24 nodes send invalid blocks of every kind the attacker makes:
// every invariant holds (the honest nodes end on one tip, and discourage
// the attackers and no one else), every attacker is discouraged by some
// honest node, the report names them and leaves them out of the final
// tip's count and of convergence (cut off, they would never converge),
// and the same seed gives the same run.
func TestChainNodesBadBlocks(t *testing.T) {
	s, r := run(t, badNet(1), newChainNode)
	t.Logf("%s", r.Summary())
	for name, v := range r.Invariants {
		if v != "ok" {
			t.Errorf("invariant %s: %s", name, v)
		}
	}
	if len(r.Invariants) != 4 {
		t.Errorf("invariants %v: want 4", r.Invariants)
	}
	if !slices.Equal(r.Misbehaving, attackers) {
		t.Errorf("report: misbehaving nodes %v, want %v", r.Misbehaving, attackers)
	}
	if honest := r.Nodes - len(attackers); r.NodesOnFinalTip != honest || len(r.ConvergenceMS) != 1 || r.ConvergenceMS[0].MS < 0 {
		t.Errorf("report: %d nodes on the final tip, convergence %v: want the %d honest ones, converged after the heal", r.NodesOnFinalTip, r.ConvergenceMS, honest)
	}
	sent := 0
	for _, a := range attackers {
		n := s.Node(a).(*ChainNode)
		if len(n.invalid) == 0 {
			t.Errorf("attacker %d sent no invalid block", a)
		}
		if n.misbehaving {
			t.Errorf("attacker %d misbehaves after the fault's end", a)
		}
		sent += len(n.invalid)
	}
	if r.InvalidBlocks != sent {
		t.Errorf("report: %d invalid blocks sent, the attackers say %d", r.InvalidBlocks, sent)
	}
	// The receivers' chains refused the blocks for the rules broken.
	var discouraged []int
	var rules []chain.ErrorCode
	for i := range r.Nodes {
		if slices.Contains(attackers, i) {
			continue
		}
		for _, b := range s.Node(i).(*ChainNode).peers.Banned() {
			j, _ := nodeOf(b.Addr)
			discouraged = append(discouraged, j)
			rule, _, _ := strings.Cut(b.Reason, ":")
			rules = append(rules, chain.ErrorCode(rule))
		}
	}
	slices.Sort(discouraged)
	if got := slices.Compact(discouraged); !slices.Equal(got, attackers) {
		t.Errorf("honest nodes discourage %v, want exactly the attackers %v", got, attackers)
	}
	for _, br := range breakers {
		if !slices.Contains(rules, br.rule) {
			t.Errorf("no discouragement for %s: reasons %v", br.rule, rules)
		}
	}
	if d := runChainNodes(t, badNet(1)).Digest; d != r.Digest {
		t.Errorf("seed 1 twice: digests %s and %s", r.Digest, d)
	}
}

// The invariants about bans fail when what they say is broken on purpose
// at the end of a run: an attacker taken for honest, an honest peer banned
// by the operator, a discouragement lifted.
func TestChainNodesBadBlocksBroken(t *testing.T) {
	s, r := run(t, badNet(1), newChainNode)
	nodes := make([]Node, r.Nodes)
	up := make([]bool, r.Nodes)
	for i := range nodes {
		nodes[i], up[i] = s.Node(i), true
	}
	node := func(i int) *ChainNode { return nodes[i].(*ChainNode) }
	// victim is an honest node that took an invalid block from attacker.
	victim, attacker := -1, -1
	for i := range nodes {
		if slices.Contains(attackers, i) {
			continue
		}
		for _, a := range node(i).arrived {
			if victim < 0 && slices.Contains(attackers, a.from) && slices.Contains(node(a.from).invalid, a.hash) {
				victim, attacker = i, a.from
			}
		}
	}
	if victim < 0 {
		t.Fatal("no honest node took an invalid block")
	}
	honest := 0 // a peer the victim's operator bans
	if victim == honest {
		honest = 1
	}
	host, _, _ := strings.Cut(nodeAddr(attacker), ":")
	honestHost, _, _ := strings.Cut(nodeAddr(honest), ":")
	for _, tc := range []struct {
		name, invariant, want string
		breakIt               func(t *testing.T)
	}{
		{"an attacker taken for honest", invBansOnly, host, func(t *testing.T) {
			node(attacker).misbehaved = false
			t.Cleanup(func() { node(attacker).misbehaved = true })
		}},
		{"an honest peer banned", invBansOnly, honestHost + " banned", func(t *testing.T) {
			if _, err := node(victim).peers.Ban(honestHost, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"a discouragement lifted", invInvalidBans, fmt.Sprintf("from node %d ", attacker), func(t *testing.T) {
			if err := node(victim).peers.Unban(host); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckNodes(nodes, up)[tc.invariant]; err != nil {
				t.Fatalf("before: %s: %v", tc.invariant, err)
			}
			tc.breakIt(t)
			err := CheckNodes(nodes, up)[tc.invariant]
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want it failed naming %q", tc.invariant, err, tc.want)
			}
		})
	}
}
