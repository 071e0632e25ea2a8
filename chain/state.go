package chain

import (
	"encoding/binary"
	"fmt"
)

// Account is the state of one address. The zero Account is an account that
// has never been touched, and stores keep no record of it.
type Account struct {
	Balance uint64 // units
	Nonce   uint64 // the sender nonce the account's next transfer must carry
}

const accountSize = 16

// Bytes encodes the account: balance (8) | nonce (8).
func (a Account) Bytes() []byte {
	b := binary.LittleEndian.AppendUint64(make([]byte, 0, accountSize), a.Balance)
	return binary.LittleEndian.AppendUint64(b, a.Nonce)
}

// DecodeAccount reads an encoded Account.
func DecodeAccount(b []byte) (Account, error) {
	if len(b) != accountSize {
		return Account{}, fmt.Errorf("account: want %d bytes, have %d", accountSize, len(b))
	}
	return Account{Balance: binary.LittleEndian.Uint64(b), Nonce: binary.LittleEndian.Uint64(b[8:])}, nil
}

// AccountChange is one account's state before and after a block. A block's
// changes are its undo data: writing back every Old disconnects the block.
type AccountChange struct {
	Address Address
	Old     Account
	New     Account
}

// AccountReader reads account state as of the current tip.
type AccountReader interface {
	Account(Address) (Account, error)
}

const accountChangeSize = AddressSize + 2*accountSize

// EncodeChanges encodes a block's account changes: count (varint) | changes.
func EncodeChanges(cs []AccountChange) []byte {
	b := appendVarInt(make([]byte, 0, 9+len(cs)*accountChangeSize), uint64(len(cs)))
	for _, c := range cs {
		b = append(b, c.Address[:]...)
		b = append(b, c.Old.Bytes()...)
		b = append(b, c.New.Bytes()...)
	}
	return b
}

// DecodeChanges reads what EncodeChanges wrote.
func DecodeChanges(b []byte) ([]AccountChange, error) {
	r := &reader{b: b}
	n := r.varInt(uint64(len(b) / accountChangeSize))
	cs := make([]AccountChange, n)
	for i := range cs {
		r.bytes(cs[i].Address[:])
		cs[i].Old.Balance, cs[i].Old.Nonce = r.u64(), r.u64()
		cs[i].New.Balance, cs[i].New.Nonce = r.u64(), r.u64()
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("account changes: %w", err)
	}
	return cs, nil
}

// applyBlock checks the rules that need account state (sender nonces,
// balances, the coinbase amount) and returns the block's account changes in
// the order the accounts were first touched.
func applyBlock(r AccountReader, b *Block, height uint64, p *Params) ([]AccountChange, error) {
	var changes []AccountChange
	touched := make(map[Address]int)
	get := func(a Address) (*Account, error) {
		if i, ok := touched[a]; ok {
			return &changes[i].New, nil
		}
		acc, err := r.Account(a)
		if err != nil {
			return nil, fmt.Errorf("read account %s: %w", a, err)
		}
		touched[a] = len(changes)
		changes = append(changes, AccountChange{Address: a, Old: acc, New: acc})
		return &changes[len(changes)-1].New, nil
	}
	credit := func(a Address, amount uint64) error {
		acc, err := get(a)
		if err != nil {
			return err
		}
		if acc.Balance+amount > MaxMoney {
			return ruleErrorf(ErrBadAmount, "balance of %s would exceed the money supply", a)
		}
		acc.Balance += amount
		return nil
	}

	var fees uint64
	for _, tx := range b.Txs[1:] {
		sender, err := get(tx.Sender())
		if err != nil {
			return nil, err
		}
		if tx.Nonce != sender.Nonce {
			return nil, ruleErrorf(ErrBadNonce, "transaction %s: sender nonce %d, account expects %d", tx.Hash(), tx.Nonce, sender.Nonce)
		}
		cost := tx.Amount + tx.Fee // sanity checks bound both by MaxMoney
		if sender.Balance < cost {
			return nil, ruleErrorf(ErrInsufficientFunds, "transaction %s: spends %d, balance %d", tx.Hash(), cost, sender.Balance)
		}
		sender.Balance -= cost
		sender.Nonce++
		if err := credit(tx.To, tx.Amount); err != nil {
			return nil, err
		}
		fees += tx.Fee
	}

	cb := b.Txs[0]
	if want := p.SubsidyAt(height) + fees; cb.Amount != want {
		return nil, ruleErrorf(ErrBadCoinbaseAmount, "coinbase pays %d, subsidy plus fees is %d", cb.Amount, want)
	}
	if err := credit(cb.To, cb.Amount); err != nil {
		return nil, err
	}
	return changes, nil
}
