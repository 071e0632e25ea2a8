package wire

import (
	"bytes"

	"github.com/hashforge/hashforge/chain"
)

// maxTxPayload bounds a tx message: the largest valid transfer, with a memo
// of chain.MaxMemo bytes, takes 400.
const maxTxPayload = 1024

// MsgTx carries one transaction in the chain's encoding.
type MsgTx struct{ Tx *chain.Tx }

func (*MsgTx) Command() string          { return "tx" }
func (*MsgTx) maxPayload() uint32       { return maxTxPayload }
func (m *MsgTx) encode(w *bytes.Buffer) { w.Write(m.Tx.Bytes()) }
func (m *MsgTx) decode(r *bytes.Reader) (err error) {
	m.Tx, err = chain.DecodeTx(rest(r))
	return err
}

// MsgMempool asks the peer to announce the transactions it has pending, as
// bitcoind's BIP 35 message does: a node that joins late learns them.
type MsgMempool struct{ emptyPayload }

func (*MsgMempool) Command() string { return "mempool" }
