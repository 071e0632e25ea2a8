// Package wallet keeps ed25519 keys in files, signs transfers and sends them
// through a node's HTTP API.
package wallet

import (
	"context"
	"crypto/ed25519"

	"github.com/hashforge/hashforge/apiclient"
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

// Send signs a transfer from key's account and submits it through the node
// c talks to, which gives the network to sign for and the sender's next
// nonce, so sends in a row queue up in order. It returns the txid.
func Send(ctx context.Context, c *apiclient.Client, key ed25519.PrivateKey, to chain.Address, amount, fee uint64, memo []byte) (chain.Hash, error) {
	params, err := c.Network(ctx)
	if err != nil {
		return chain.Hash{}, err
	}
	sender, err := c.Account(ctx, Address(key))
	if err != nil {
		return chain.Hash{}, err
	}
	return c.SendTx(ctx, Transfer(key, to, amount, fee, sender.NextNonce(), memo, params))
}

// Address is the address of key's account.
func Address(key ed25519.PrivateKey) chain.Address {
	return chain.AddressOf(key.Public().(ed25519.PublicKey))
}

// Signer signs transfers from one key for one network. It lets a part of a
// program sign (a node's HTTP API, for POST /api/words) without holding the
// key.
type Signer struct {
	key    ed25519.PrivateKey
	params *chain.Params
}

// NewSigner returns a signer of transfers from key, valid on network p.
func NewSigner(key ed25519.PrivateKey, p *chain.Params) *Signer {
	return &Signer{key: key, params: p}
}

// Address is the account the signer's transfers spend from.
func (s *Signer) Address() chain.Address {
	return Address(s.key)
}

// Transfer is Transfer from the signer's key on its network.
func (s *Signer) Transfer(to chain.Address, amount, fee, nonce uint64, memo []byte) *chain.Tx {
	return Transfer(s.key, to, amount, fee, nonce, memo, s.params)
}
