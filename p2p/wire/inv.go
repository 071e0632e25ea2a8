package wire

import (
	"bytes"

	"github.com/hashforge/hashforge/chain"
)

// MaxInvItems is the most items one inv, getdata or notfound may carry.
const MaxInvItems = 2000

// Inventory types.
const (
	InvBlock uint32 = 1
	InvTx    uint32 = 2
)

// InvItem names an object a node has or wants.
type InvItem struct {
	Type uint32
	Hash chain.Hash
}

const invItemSize = 4 + 32

// invList is the payload of inv, getdata and notfound, which differ only in
// their command.
type invList struct{ Items []InvItem }

func (*invList) maxPayload() uint32       { return 4 + MaxInvItems*invItemSize }
func (m *invList) encode(w *bytes.Buffer) { putList(w, m.Items) }
func (m *invList) decode(r *bytes.Reader) (err error) {
	m.Items, err = getList[InvItem](r, MaxInvItems)
	return err
}

// MsgInv announces objects the sender has.
type MsgInv struct{ invList }

// MsgGetData asks for objects by inventory.
type MsgGetData struct{ invList }

// MsgNotFound answers getdata for objects the sender does not have.
type MsgNotFound struct{ invList }

// The list inside these messages is unexported, so they are made here.

// NewMsgInv announces items.
func NewMsgInv(items []InvItem) *MsgInv { return &MsgInv{invList{items}} }

// NewMsgGetData asks for items.
func NewMsgGetData(items []InvItem) *MsgGetData { return &MsgGetData{invList{items}} }

// NewMsgNotFound names the items asked for that the sender lacks.
func NewMsgNotFound(items []InvItem) *MsgNotFound { return &MsgNotFound{invList{items}} }

func (*MsgInv) Command() string      { return "inv" }
func (*MsgGetData) Command() string  { return "getdata" }
func (*MsgNotFound) Command() string { return "notfound" }
