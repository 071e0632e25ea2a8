package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The fault schedule as the engine carries it out.

// Halves splits nodes 0 to n-1 into two groups of consecutive indices, for
// a Partition: the first n/2, rounded up, and the rest.
func Halves(n int) [][]int {
	half := make([][]int, 2)
	for i := range n {
		half[i*2/n] = append(half[i*2/n], i)
	}
	return half
}

func (s *Sim) setFaults(faults []Fault) error {
	n := s.cfg.Nodes
	s.net.faults = faults
	s.net.side = make([][]int32, len(faults))
	check := func(i, node int) error {
		if node < 0 || node >= n {
			return fmt.Errorf("sim: fault %d names node %d of %d", i, node, n)
		}
		return nil
	}
	for i, f := range faults {
		if f.At < 0 || (f.Until != 0 && f.Until < f.At) {
			return fmt.Errorf("sim: fault %d: At %v, Until %v", i, f.At, f.Until)
		}
		switch f.Kind {
		case Partition:
			side := make([]int32, n)
			for g, group := range f.Groups {
				for _, node := range group {
					if err := check(i, node); err != nil {
						return err
					}
					side[node] = int32(g + 1)
				}
			}
			s.net.side[i] = side
		case Crash, DelaySpike, LossBurst, BadBlocks:
			if f.Kind == LossBurst && (f.Loss < 0 || f.Loss > 1) {
				return fmt.Errorf("sim: fault %d: Loss %v is not a probability", i, f.Loss)
			}
			if len(f.Nodes) == 0 {
				if f.Kind == Crash || f.Kind == BadBlocks {
					return fmt.Errorf("sim: fault %d: a %v fault of no node", i, f.Kind)
				}
				continue
			}
			side := make([]int32, n)
			for _, node := range f.Nodes {
				if err := check(i, node); err != nil {
					return err
				}
				side[node] = 1
			}
			s.net.side[i] = side
		default:
			return fmt.Errorf("sim: fault %d: unknown kind %v", i, f.Kind)
		}
	}
	return nil
}

func (s *Sim) fault(i int, begin bool) {
	f := s.cfg.Faults[i]
	detail := f.Kind.String() + " " + strconv.Itoa(i)
	switch {
	case f.Kind == Crash && begin:
		s.log("crash", -1, -1, 0, detail)
		for _, node := range f.Nodes {
			if !s.up[node] {
				continue
			}
			s.up[node] = false
			s.inc[node]++
			s.obs.down(node, s.now)
			if c, ok := s.nodes[node].(Crasher); ok {
				c.Crash()
			}
		}
	case f.Kind == Crash:
		s.log("restart", -1, -1, 0, detail)
		for _, node := range f.Nodes {
			if s.up[node] {
				continue
			}
			s.up[node] = true
			s.obs.upAgain(node)
			s.nodes[node].Start(s.envs[node])
		}
	case f.Kind == BadBlocks:
		// Not a fault of the links: the nodes carry it out.
		kind := "misbehave"
		if !begin {
			kind = "behave"
		}
		s.log(kind, -1, -1, 0, detail)
		for _, node := range f.Nodes {
			was := s.bad[node] > 0
			if begin {
				s.bad[node]++
				s.obs.misbehaves(node, s.up[node], s.now)
			} else {
				s.bad[node]--
			}
			if m, ok := s.nodes[node].(Misbehaver); ok && was != (s.bad[node] > 0) {
				m.Misbehave(!was)
			}
		}
	case begin:
		s.log("fault", -1, -1, 0, detail)
		s.net.active = append(s.net.active, i)
	default:
		s.log("fault-end", -1, -1, 0, detail)
		s.net.active = slices.DeleteFunc(s.net.active, func(j int) bool { return j == i })
		if f.Kind == Partition {
			s.obs.healed(s.now)
		}
	}
}

// ParseFault reads a fault of kind as miner sim's flags write it: AT-UNTIL for a Partition into two
// halves, AT-UNTIL:PERCENT% for a Crash or BadBlocks of that share of the
// nodes, evenly spread. Misbehaving nodes sit halfway between those a
// crash of the same share takes, so that the two faults in one run meet
// different nodes.
func ParseFault(s string, kind FaultKind, nodes int) (Fault, error) {
	span, share, hasShare := strings.Cut(s, ":")
	if wantShare := kind != Partition; wantShare != hasShare {
		if wantShare {
			return Fault{}, fmt.Errorf("want AT-UNTIL:PERCENT%%, e.g. 5h-6h:10%%")
		}
		return Fault{}, fmt.Errorf("want AT-UNTIL, e.g. 2h-3h")
	}
	from, to, ok := strings.Cut(span, "-")
	at, err1 := time.ParseDuration(from)
	until, err2 := time.ParseDuration(to)
	if !ok || err1 != nil || err2 != nil || at < 0 || until <= at {
		return Fault{}, fmt.Errorf("want AT-UNTIL with AT before UNTIL, e.g. 2h-3h")
	}
	if kind == Partition {
		return Fault{Kind: Partition, At: at, Until: until, Groups: Halves(nodes)}, nil
	}
	pct, err := strconv.ParseFloat(strings.TrimSuffix(share, "%"), 64)
	if err != nil || pct <= 0 || pct > 100 || !strings.HasSuffix(share, "%") {
		return Fault{}, fmt.Errorf("share %q: want a percentage such as 10%%", share)
	}
	f := Fault{Kind: kind, At: at, Until: until}
	n := max(1, int(float64(nodes)*pct/100))
	half := 0 // in halves of the spacing
	if kind == BadBlocks {
		half = 1
	}
	for k := range n {
		f.Nodes = append(f.Nodes, (2*k+half)*nodes/(2*n))
	}
	return f, nil
}
