package chain

import (
	"context"
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
// account state and tip agree with the replay. It returns the verified tip.
// progress, if not nil, is called after each block.
func Verify(ctx context.Context, p *Params, s VerifyStore, progress func(height uint64)) (Tip, error) {
	state := make(memAccounts)
	var parent *blockNode
	now := time.Now()
	for height := uint64(0); ; height++ {
		if err := ctx.Err(); err != nil {
			return Tip{}, err
		}
		hash, ok, err := s.MainHash(height)
		if err != nil {
			return Tip{}, fmt.Errorf("height %d: %w", height, err)
		}
		if !ok {
			break
		}
		n, err := verifyBlock(p, s, state, parent, hash, height, now)
		if err != nil {
			return Tip{}, fmt.Errorf("height %d, block %s: %w", height, hash, err)
		}
		parent = n
		if progress != nil {
			progress(height)
		}
	}
	if parent == nil {
		return Tip{}, fmt.Errorf("store holds no main chain")
	}

	tip, err := s.Tip()
	if err != nil {
		return Tip{}, fmt.Errorf("read tip: %w", err)
	}
	if tip != parent.hash {
		return Tip{}, fmt.Errorf("stored tip %s is not the last main-chain block %s", tip, parent.hash)
	}
	stored := 0
	if err := s.ForEachAccount(func(a Address, acc Account) error {
		stored++
		if want := state[a]; acc != want {
			return fmt.Errorf("account %s: stored %+v, replay gives %+v", a, acc, want)
		}
		return nil
	}); err != nil {
		return Tip{}, err
	}
	live := 0
	for _, acc := range state {
		if acc != (Account{}) {
			live++
		}
	}
	if stored != live {
		return Tip{}, fmt.Errorf("store holds %d accounts, replay gives %d", stored, live)
	}
	return Tip{Hash: parent.hash, Height: parent.height, Header: parent.header, Work: parent.work}, nil
}

func verifyBlock(p *Params, s VerifyStore, state memAccounts, parent *blockNode, hash Hash, height uint64, now time.Time) (*blockNode, error) {
	b, err := s.Block(hash)
	if err != nil {
		return nil, err
	}
	if got := b.Hash(); got != hash {
		return nil, fmt.Errorf("stored block hashes to %s", got)
	}
	if parent == nil {
		if hash != p.GenesisHash() {
			return nil, fmt.Errorf("not the %s genesis block %s", p.Name, p.GenesisHash())
		}
	} else {
		if b.Header.PrevBlock != parent.hash {
			return nil, fmt.Errorf("parent %s, main chain has %s", b.Header.PrevBlock, parent.hash)
		}
		if err := checkBlockSanity(b, len(b.Bytes()), p, now); err != nil {
			return nil, err
		}
		if err := checkBlockContext(b, parent, p); err != nil {
			return nil, err
		}
	}
	changes, err := applyBlock(state, b, height, p)
	if err != nil {
		return nil, err
	}
	undo, err := s.Undo(hash)
	if err != nil {
		return nil, fmt.Errorf("undo data: %w", err)
	}
	if !slices.Equal(undo, changes) {
		return nil, fmt.Errorf("stored undo data differs from the replay")
	}
	state.apply(changes)
	for _, id := range b.TxHashes() {
		if at, ok, err := s.TxBlock(id); err != nil || at != hash {
			return nil, fmt.Errorf("transaction index: %s is under block %s (found %t, %v)", id, at, ok, err)
		}
	}
	return newBlockNode(b.Header, parent), nil
}
