package wire

import "bytes"

// MaxAddrs is the most addresses one addr message may carry.
const MaxAddrs = 1000

// MsgGetAddr asks for known peer addresses.
type MsgGetAddr struct{ emptyPayload }

func (*MsgGetAddr) Command() string { return "getaddr" }

// NetAddr is a peer's listening address.
type NetAddr struct {
	IP       [16]byte // IPv4 as IPv4-mapped IPv6
	Port     uint16
	LastSeen int64 // Unix seconds
}

const netAddrSize = 16 + 2 + 8

// MsgAddr gossips peer addresses.
type MsgAddr struct{ Addrs []NetAddr }

func (*MsgAddr) Command() string          { return "addr" }
func (*MsgAddr) maxPayload() uint32       { return 4 + MaxAddrs*netAddrSize }
func (m *MsgAddr) encode(w *bytes.Buffer) { putList(w, m.Addrs) }
func (m *MsgAddr) decode(r *bytes.Reader) (err error) {
	m.Addrs, err = getList[NetAddr](r, MaxAddrs)
	return err
}
