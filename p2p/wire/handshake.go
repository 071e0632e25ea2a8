package wire

import (
	"bytes"

	"github.com/hashforge/hashforge/chain"
)

// MsgVersion opens a connection: each side sends one, then a verack for the
// other's.
type MsgVersion struct {
	Protocol   uint32
	Genesis    chain.Hash
	NodeID     uint64 // random per process: a node that meets its own ID dialled itself
	ListenPort uint16 // 0: does not listen
	Tip        TipInfo
}

func (*MsgVersion) Command() string                { return "version" }
func (*MsgVersion) maxPayload() uint32             { return 4 + 32 + 8 + 2 + 8 + 32 + 32 }
func (m *MsgVersion) encode(w *bytes.Buffer)       { put(w, m) }
func (m *MsgVersion) decode(r *bytes.Reader) error { return get(r, m) }

// MsgVerAck accepts a version.
type MsgVerAck struct{ emptyPayload }

func (*MsgVerAck) Command() string { return "verack" }
