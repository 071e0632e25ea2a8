package wire

import "bytes"

// MsgPing checks liveness and carries the sender's tip.
type MsgPing struct {
	Nonce uint64
	Tip   TipInfo
}

func (*MsgPing) Command() string                { return "ping" }
func (*MsgPing) maxPayload() uint32             { return 8 + 8 + 32 + 32 }
func (m *MsgPing) encode(w *bytes.Buffer)       { put(w, m) }
func (m *MsgPing) decode(r *bytes.Reader) error { return get(r, m) }

// MsgPong answers a ping with its nonce and the answerer's tip: a ping's
// payload under another command.
type MsgPong struct{ MsgPing }

func (*MsgPong) Command() string { return "pong" }
