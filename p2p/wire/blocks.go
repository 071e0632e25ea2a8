package wire

import (
	"bytes"

	"github.com/hashforge/hashforge/chain"
)

// MaxLocator is the most hashes a getheaders locator may hold.
const MaxLocator = 64

// MsgGetHeaders asks for main-chain headers after the locator's first known block.
type MsgGetHeaders struct {
	Locator []chain.Hash
	Stop    chain.Hash // zero: as many as allowed
}

func (*MsgGetHeaders) Command() string    { return "getheaders" }
func (*MsgGetHeaders) maxPayload() uint32 { return 4 + MaxLocator*32 + 32 }
func (m *MsgGetHeaders) encode(w *bytes.Buffer) {
	putList(w, m.Locator)
	put(w, m.Stop)
}
func (m *MsgGetHeaders) decode(r *bytes.Reader) (err error) {
	if m.Locator, err = getList[chain.Hash](r, MaxLocator); err != nil {
		return err
	}
	return get(r, &m.Stop)
}

// MsgHeaders answers getheaders.
type MsgHeaders struct{ Headers []chain.Header }

func (*MsgHeaders) Command() string          { return "headers" }
func (*MsgHeaders) maxPayload() uint32       { return 4 + chain.MaxHeaders*chain.HeaderSize }
func (m *MsgHeaders) encode(w *bytes.Buffer) { putList(w, m.Headers) }
func (m *MsgHeaders) decode(r *bytes.Reader) (err error) {
	m.Headers, err = getList[chain.Header](r, chain.MaxHeaders)
	return err
}

// MsgBlock carries one block in the chain's encoding.
type MsgBlock struct{ Block *chain.Block }

func (*MsgBlock) Command() string          { return "block" }
func (*MsgBlock) maxPayload() uint32       { return chain.MaxBlockSize }
func (m *MsgBlock) encode(w *bytes.Buffer) { w.Write(m.Block.Bytes()) }
func (m *MsgBlock) decode(r *bytes.Reader) (err error) {
	m.Block, err = chain.DecodeBlock(rest(r))
	return err
}
