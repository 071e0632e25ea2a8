package sim

import (
	"slices"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/p2p/wire"
)

// The attacker: a ChainNode under a BadBlocks fault mines invalid blocks.
// It is the only code here that breaks a rule; deciding that a block is
// invalid, and what to do about its sender, stays with the receivers'
// chain and peer layer.

// A breaker breaks one consensus rule of a block built from the node's
// template, before its nonce is ground. Each rule is one the chain checks
// on the block alone (checkBlockSanity), before it stores it: every node
// that receives such a block refuses it whatever its tip, and its peer
// layer discourages the sender. A rule of the state (a coinbase paying too
// much) is checked only when the block would become the tip: a node on a
// tied branch stores the block unchecked and rightly blames no one, so
// whether the sender is discouraged would depend on the race, and
// CheckNodes could not ask it of every receiver.
type breaker struct {
	rule  chain.ErrorCode
	apply func(n *ChainNode, b *chain.Block)
}

// breakers are taken in turn, the k-th invalid block of node i breaking
// rule i+k mod len(breakers). Its first block gets an attacker cut off by
// the peers it reaches, so attackers start at different rules: a run of a
// few meets each.
var breakers = []breaker{
	// The header commits to transactions other than the block's.
	{chain.ErrBadMerkleRoot, func(_ *ChainNode, b *chain.Block) { b.Header.MerkleRoot[0] ^= 1 }},
	// A faucet transfer to the attacker with a signature that does not
	// verify, committed to by the merkle root as any transaction is.
	{chain.ErrBadSignature, func(n *ChainNode, b *chain.Block) {
		tx := faucet.Transfer(n.payTo, chain.Coin, txFee, 0, nil)
		tx.Signature[0] ^= 1
		b.Txs = append(slices.Clip(b.Txs), tx) // the template's slice is not ours to grow
		b.Header.MerkleRoot = chain.MerkleRoot(b.TxHashes())
	}},
}

// Misbehave starts or stops the node's misbehaviour; it is a Misbehaver.
func (n *ChainNode) Misbehave(on bool) {
	n.misbehaving = on
	n.misbehaved = n.misbehaved || on
}

// sendInvalid is what a misbehaving node does with its template when the
// schedule says it finds a block: it breaks one rule, grinds the nonce so
// that the proof of work holds (a receiver checks that first and would
// blame no rule without it), and pushes the block at once to every peer
// whose connection is ready, as a miner relays its own block unannounced.
// Its own chain would refuse the block, so its peer layer could neither
// announce nor serve it: it goes on the links directly.
func (n *ChainNode) sendInvalid(env Env, b *chain.Block) {
	br := breakers[(n.index+len(n.invalid))%len(breakers)]
	br.apply(n, b)
	solve(b)
	h := b.Hash()
	n.invalid = append(n.invalid, h)
	m := &wire.MsgBlock{Block: b}
	enc := n.encode(m)
	for _, j := range n.order {
		if l := n.links[j]; !l.Closed() && l.Ready() {
			n.send(env, j, m.Command(), enc)
		}
	}
	env.Observe(Observation{Kind: InvalidSent, Block: h.String(), Detail: string(br.rule)})
}
