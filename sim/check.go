package sim

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p"
)

// The invariants of a run of ChainNodes, and what an honest node keeps for
// them.

// The invariants CheckNodes reports, by name.
const (
	invOnTip       = "on the most-work tip"
	invReplay      = "store and state replay"
	invBansOnly    = "banned peers only among the misbehaving"
	invInvalidBans = "invalid blocks' senders discouraged"
)

// arrival is a block that came from node `from` on a ready connection at
// `at` and that the node's chain did not hold after its peer layer took
// it: refused, or waiting (an orphan, a download's block not connected
// yet).
type arrival struct {
	from int
	hash chain.Hash
	at   time.Time
}

// noteArrival records a block from node `from` that the chain does not
// hold (Receive has asked it). Whenever the record fills, the blocks the chain has taken since
// are dropped, and it grows only if most of it remains: it holds little
// more than the refusals, at a cost per block that stays constant.
func (n *ChainNode) noteArrival(from int, h chain.Hash) {
	if len(n.arrived) == cap(n.arrived) {
		n.arrived = slices.DeleteFunc(n.arrived, func(a arrival) bool { return n.chain.Have(a.hash) })
		if len(n.arrived) > cap(n.arrived)/2 {
			n.arrived = slices.Grow(n.arrived, len(n.arrived))
		}
	}
	n.arrived = append(n.arrived, arrival{from: from, hash: h, at: n.now})
}

// nodeOf is the node whose address (nodeAddr), or host alone, addr is.
func nodeOf(addr string) (int, bool) {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	ip := net.ParseIP(addr).To4()
	if ip == nil || ip[0] != 10 {
		return 0, false
	}
	return int(ip[1])<<16 | int(ip[2])<<8 | int(ip[3]), true
}

// CheckNodes checks the invariants of a run of ChainNodes. The nodes a
// BadBlocks fault made misbehave, at any time of the run, are the
// attackers; the others are honest.
//
//   - invOnTip: every honest node that is up is on the tip with the most
//     work among them. Attackers are left out: their peers cut them off.
//   - invReplay: each node's store holds its main chain, and its account
//     state is what replaying that chain gives (chain's own check, on
//     every node up of a small network and a sample of a large one).
//   - invBansOnly: every ban and discouragement an honest node holds names
//     an attacker.
//   - invInvalidBans: an honest node that took an attacker's invalid block
//     on a ready connection, in its present life (a restart forgets
//     discouragements) and less than a discouragement's span ago,
//     discourages the node that sent it.
func CheckNodes(nodes []Node, up []bool) map[string]error {
	out := map[string]error{invOnTip: nil, invReplay: nil, invBansOnly: nil, invInvalidBans: nil}
	fail := func(name, format string, args ...any) {
		if out[name] == nil {
			out[name] = fmt.Errorf(format, args...)
		}
	}
	ns := make([]*ChainNode, len(nodes))
	invalid := make(map[chain.Hash]bool)
	var best *ChainNode
	for i, nd := range nodes {
		n := nd.(*ChainNode)
		ns[i] = n
		for _, h := range n.invalid {
			invalid[h] = true
		}
		if up[i] && !n.misbehaved && (best == nil || n.chain.Tip().Work.Cmp(best.chain.Tip().Work) > 0) {
			best = n
		}
	}
	if best == nil {
		return out
	}
	span := p2p.DefaultConfig().BanDuration // Start's
	step := max(1, len(nodes)/20)
	for i, n := range ns {
		if !up[i] {
			continue
		}
		if i%step == 0 && out[invReplay] == nil {
			if _, err := chain.Verify(context.Background(), n.params, n.store, nil, chain.WithClock(n.clock)); err != nil {
				fail(invReplay, "node %d: %w", i, err)
			}
		}
		if n.misbehaved {
			continue
		}
		if tip := n.chain.Tip(); tip.Hash != best.chain.Tip().Hash {
			fail(invOnTip, "node %d is at %d %s, node %d at %d %s", i, tip.Height, tip.Hash, best.index, best.chain.Tip().Height, best.chain.Tip().Hash)
		}
		var banned []int
		for _, b := range n.peers.Banned() {
			j, ok := nodeOf(b.Addr)
			if !ok || j >= len(ns) || !ns[j].misbehaved {
				fail(invBansOnly, "node %d holds %s %s (%s), no attacker", i, b.Addr, b.Kind, b.Reason)
				continue
			}
			banned = append(banned, j)
		}
		for _, a := range n.arrived {
			if invalid[a.hash] && n.now.Sub(a.at) < span && !slices.Contains(banned, a.from) {
				fail(invInvalidBans, "node %d took invalid block %s from node %d and does not discourage it", i, a.hash, a.from)
			}
		}
	}
	return out
}
