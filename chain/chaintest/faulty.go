package chaintest

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/store"
)

// Op names a write of the chain's store that a FaultyStore can refuse.
type Op string

const (
	OpPutBlock   Op = "PutBlock"   // storing a block before it is connected
	OpConnect    Op = "Connect"    // moving the main chain onto a stored block
	OpDisconnect Op = "Disconnect" // moving it off again in a reorganisation
)

// ErrDiskFull is what a FaultyStore's refused writes return: the error bbolt
// passes on from a full disk.
var ErrDiskFull = fmt.Errorf("write chain.db: %w", syscall.ENOSPC)

// Failure is one write a FaultyStore refused.
type Failure struct {
	Op   Op
	Hash chain.Hash // the block written
	At   time.Time
}

// FaultyStore is a real store whose writes can be made to fail as on a full
// disk, for tests of what the chain and the miner do when the disk fills up
// and frees again. A real full filesystem needs root; this needs nothing.
type FaultyStore struct {
	*store.Store

	mu       sync.Mutex
	failing  map[Op]bool
	failures []Failure
}

// NewFaultyChain returns a regtest chain at genesis on a FaultyStore in a
// temporary directory, closed when the test ends.
func NewFaultyChain(t testing.TB) (*chain.Chain, *FaultyStore) {
	t.Helper()
	st := &FaultyStore{Store: openStore(t)}
	return newChainOn(t, st), st
}

// Fail makes the writes ops fail from now on, and the others succeed; no ops:
// every write succeeds again.
func (s *FaultyStore) Fail(ops ...Op) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = make(map[Op]bool)
	for _, op := range ops {
		s.failing[op] = true
	}
}

// Failures returns the writes refused so far, oldest first.
func (s *FaultyStore) Failures() []Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Failure(nil), s.failures...)
}

// refuse returns ErrDiskFull, and records the failure, when op is failing.
func (s *FaultyStore) refuse(op Op, h chain.Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.failing[op] {
		return nil
	}
	s.failures = append(s.failures, Failure{Op: op, Hash: h, At: time.Now()})
	return fmt.Errorf("%s %s: %w", op, h, ErrDiskFull)
}

func (s *FaultyStore) PutBlock(e chain.IndexEntry, raw []byte) error {
	if err := s.refuse(OpPutBlock, e.Header.Hash()); err != nil {
		return err
	}
	return s.Store.PutBlock(e, raw)
}

func (s *FaultyStore) Connect(u chain.Update) error {
	if err := s.refuse(OpConnect, u.Hash); err != nil {
		return err
	}
	return s.Store.Connect(u)
}

func (s *FaultyStore) Disconnect(u chain.Update) error {
	if err := s.refuse(OpDisconnect, u.Hash); err != nil {
		return err
	}
	return s.Store.Disconnect(u)
}
