package chain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// VerifyStore is what Verify reads from a stored chain.
type VerifyStore interface {
	Tip() (Hash, error)
	MainHash(height uint64) (Hash, bool, error)
	Block(h Hash) (*Block, error)
	Undo(h Hash) ([]AccountChange, error)
	ForEachAccount(fn func(Address, Account) error) error
	TxBlock(txid Hash) (Hash, bool, error)
}

// memAccounts is account state replayed in memory from genesis.
type memAccounts map[Address]Account

func (m memAccounts) Account(a Address) (Account, error) { return m[a], nil }

// apply writes each change's New.
func (m memAccounts) apply(cs []AccountChange) {
	for _, ch := range cs {
		m[ch.Address] = ch.New
	}
}

// Verify re-validates a stored main chain from genesis with every rule,
// replaying account state in memory, and checks that the stored undo data,
// transaction index, account state and tip agree with the replay. It
// returns the verified tip, or an error listing every problem it found: a
// block that cannot be replayed stops the replay there, and what the
// blocks above it and the account state hold goes unchecked. progress, if
// not nil, is called after each block. Of the options, WithClock counts:
// a block's time is checked against that clock.
func Verify(ctx context.Context, p *Params, s VerifyStore, progress func(height uint64), opts ...Option) (Tip, error) {
	var problems []error
	state := make(memAccounts)
	var parent *blockNode
	now := newOptions(opts).now()
	stopped := false
	for height := uint64(0); ; height++ {
		if err := ctx.Err(); err != nil {
			return Tip{}, err
		}
		hash, ok, err := s.MainHash(height)
		if err != nil {
			problems = append(problems, fmt.Errorf("height %d: %w", height, err))
			stopped = true
			break
		}
		if !ok {
			break
		}
		n, faults, err := verifyBlock(p, s, state, parent, hash, height, now)
		for _, f := range faults {
			problems = append(problems, fmt.Errorf("height %d, block %s: %w", height, hash, f))
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("height %d, block %s: %w (the replay stops here)", height, hash, err))
			stopped = true
			break
		}
		parent = n
		if progress != nil {
			progress(height)
		}
	}
	if parent == nil && !stopped {
		problems = append(problems, fmt.Errorf("store holds no main chain"))
	}
	if parent != nil && !stopped {
		problems = append(problems, checkTipAndAccounts(s, state, parent)...)
	}
	switch len(problems) {
	case 0:
		return Tip{Hash: parent.hash, Height: parent.height, Header: parent.header, Work: parent.work}, nil
	case 1:
		return Tip{}, problems[0]
	}
	return Tip{}, fmt.Errorf("%d problems:\n%w", len(problems), errors.Join(problems...))
}

// checkTipAndAccounts compares the stored tip and accounts with a replay
// that ended at last.
func checkTipAndAccounts(s VerifyStore, state memAccounts, last *blockNode) []error {
	var problems []error
	tip, err := s.Tip()
	switch {
	case err != nil:
		problems = append(problems, fmt.Errorf("read tip: %w", err))
	case tip != last.hash:
		problems = append(problems, fmt.Errorf("stored tip %s is not the last main-chain block %s", tip, last.hash))
	}
	stored := 0
	if err := s.ForEachAccount(func(a Address, acc Account) error {
		stored++
		if want := state[a]; acc != want {
			problems = append(problems, fmt.Errorf("account %s: stored %+v, replay gives %+v", a, acc, want))
		}
		return nil
	}); err != nil {
		problems = append(problems, err)
	}
	live := 0
	for _, acc := range state {
		if acc != (Account{}) {
			live++
		}
	}
	if stored != live {
		problems = append(problems, fmt.Errorf("store holds %d accounts, replay gives %d", stored, live))
	}
	return problems
}

// verifyBlock replays one main-chain block. A fault is stored data that
// disagrees with the replay; err is a block the replay cannot go past.
func verifyBlock(p *Params, s VerifyStore, state memAccounts, parent *blockNode, hash Hash, height uint64, now time.Time) (n *blockNode, faults []error, err error) {
	b, err := s.Block(hash)
	if err != nil {
		return nil, nil, err
	}
	if got := b.Hash(); got != hash {
		return nil, nil, fmt.Errorf("stored block hashes to %s", got)
	}
	if parent == nil {
		if hash != p.GenesisHash() {
			return nil, nil, fmt.Errorf("not the %s genesis block %s", p.Name, p.GenesisHash())
		}
	} else {
		if b.Header.PrevBlock != parent.hash {
			return nil, nil, fmt.Errorf("parent %s, main chain has %s", b.Header.PrevBlock, parent.hash)
		}
		if err := checkBlockSanity(b, len(b.Bytes()), p, now, nil); err != nil {
			return nil, nil, err
		}
		if err := checkBlockContext(b, parent, p); err != nil {
			return nil, nil, err
		}
	}
	changes, err := applyBlock(state, b, height, p)
	if err != nil {
		return nil, nil, err
	}
	undo, err := s.Undo(hash)
	switch {
	case err != nil:
		faults = append(faults, fmt.Errorf("undo data: %w", err))
	case !slices.Equal(undo, changes):
		faults = append(faults, fmt.Errorf("stored undo data differs from the replay"))
	}
	state.apply(changes)
	for _, id := range b.TxHashes() {
		if at, ok, err := s.TxBlock(id); err != nil || at != hash {
			faults = append(faults, fmt.Errorf("transaction index: %s is under block %s (found %t, %v)", id, at, ok, err))
		}
	}
	return newBlockNode(b.Header, parent), faults, nil
}
