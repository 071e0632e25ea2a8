package sim

import (
	"fmt"
	"slices"
	"strconv"
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
