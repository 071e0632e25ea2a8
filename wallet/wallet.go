// Package wallet keeps ed25519 keys in files, signs transfers and talks to a
// node's HTTP API: the network it runs, accounts, and submitting transactions.
package wallet

import (
	"crypto/ed25519"

	"github.com/hashforge/hashforge/chain"
)

// Transfer returns a transfer from key's account, signed for network p: the
// signature covers p's magic, so the transfer is valid on that network only.
// nonce must be the sender's next: its confirmed nonce plus its pending
// transfers (Account.NextNonce).
func Transfer(key ed25519.PrivateKey, to chain.Address, amount, fee, nonce uint64, memo []byte, p *chain.Params) *chain.Tx {
	tx := &chain.Tx{Kind: chain.TxTransfer, To: to, Amount: amount, Fee: fee, Nonce: nonce, Memo: memo}
	tx.Sign(key, p.Magic)
	return tx
}
