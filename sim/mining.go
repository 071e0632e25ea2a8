package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// The mining schedule: block discovery as a Poisson process at one block
// per Interval network-wide, the finder drawn by hash-power share, both
// from the run's mining stream alone.

func hashShares(cfg Config, rng *rand.Rand) ([]float64, error) {
	n := cfg.Nodes
	w := cfg.HashPower
	if w == nil {
		w = make([]float64, n)
		for i := range w {
			switch cfg.HashDist {
			case "", "equal":
				w[i] = 1
			case "exponential":
				w[i] = rng.ExpFloat64()
			default:
				return nil, fmt.Errorf("sim: HashDist %q: want equal or exponential", cfg.HashDist)
			}
		}
	}
	if len(w) != n {
		return nil, fmt.Errorf("sim: HashPower has %d shares for %d nodes", len(w), n)
	}
	cum := make([]float64, n)
	var total float64
	for i, x := range w {
		if x < 0 {
			return nil, fmt.Errorf("sim: node %d has a negative hash share", i)
		}
		total += x
		cum[i] = total
	}
	if total <= 0 {
		return nil, errors.New("sim: no node has hash power")
	}
	return cum, nil
}

// Transactor is a node that takes transactions: the engine's schedule (one
// transaction per Config.TxInterval on average, network-wide, while blocks
// are being found) hands the n-th transaction of the run, counted from 0,
// to a node drawn at random, which makes it and offers it to its mempool,
// as a wallet sending through that node would.
type Transactor interface {
	Transact(env Env, n int)
}

// scheduleTx draws the next transaction's time.
func (s *Sim) scheduleTx() {
	if s.cfg.TxInterval <= 0 || s.cfg.Blocks > 0 && s.mined >= s.cfg.Blocks {
		return
	}
	wait := time.Duration(s.txRng.ExpFloat64() * float64(s.cfg.TxInterval))
	s.push(event{at: s.now + wait, kind: evTx, from: -1, to: -1})
}

func (s *Sim) transact() {
	i := s.cfg.TxNode
	if i < 0 {
		i = s.txRng.IntN(len(s.nodes))
	}
	if t, ok := s.nodes[i].(Transactor); ok && s.up[i] {
		s.log("tx", -1, i, 0, strconv.Itoa(s.txs))
		t.Transact(s.envs[i], s.txs)
		s.txs++
	} else {
		s.log("tx-skip", -1, i, 0, "")
	}
	s.scheduleTx()
}

// scheduleMine draws the next block's time, an exponential wait at the
// network's rate.
func (s *Sim) scheduleMine() {
	if s.cfg.Blocks > 0 && s.mined >= s.cfg.Blocks {
		return
	}
	wait := time.Duration(s.mineRng.ExpFloat64() * float64(s.cfg.Interval))
	s.push(event{at: s.now + wait, kind: evMine, from: -1, to: -1})
}

func (s *Sim) mine() {
	x := s.mineRng.Float64() * s.cum[len(s.cum)-1]
	i, _ := slices.BinarySearchFunc(s.cum, x, func(c, x float64) int {
		if c <= x {
			return -1
		}
		return 1
	})
	i = min(i, len(s.cum)-1)
	if !s.up[i] {
		s.log("mine-skip", -1, i, 0, "")
	} else {
		s.mined++
		s.log("mine", -1, i, 0, strconv.Itoa(s.mined))
		s.obs.mineCalled(s.now)
		s.nodes[i].Mine(s.envs[i])
		if s.cfg.Progress != nil {
			s.cfg.Progress(s.mined, s.cfg.Blocks)
		}
		if s.cfg.Blocks > 0 && s.mined >= s.cfg.Blocks {
			if end := s.now + s.cfg.Settle; s.stop < 0 || end < s.stop {
				s.stop = end
			}
		}
	}
	s.scheduleMine()
}
