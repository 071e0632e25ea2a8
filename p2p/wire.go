package p2p

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/hashforge/hashforge/chain"
)

// ProtocolVersion is the version this node speaks.
const ProtocolVersion = 1

// Frame: magic (4) | command (12, NUL-padded ASCII) | payload length (4) |
// checksum (4: first bytes of SHA-256d(payload)) | payload.
const (
	frameHeaderSize = 24
	commandSize     = 12
)

// Limits on list messages: beyond them a message is malformed.
const (
	MaxAddrs    = 1000
	MaxInvItems = 2000
	MaxLocator  = 64
)

// ErrMalformed marks a frame or payload that breaks the protocol: the peer
// sending it is banned.
var ErrMalformed = errors.New("malformed message")

// ErrWrongNetwork marks a frame with another network's magic (or none): the
// peer is dropped, not banned, since on one machine a node of another
// network would otherwise get the whole host banned.
var ErrWrongNetwork = errors.New("wrong network magic")

// Message is one P2P message.
type Message interface {
	Command() string
	// MaxPayload bounds the encoded payload; a frame announcing more is
	// refused before its payload is read.
	MaxPayload() uint32
	encode(w *bytes.Buffer)
	decode(r *bytes.Reader) error
}

var messages = map[string]func() Message{
	"version":    func() Message { return new(MsgVersion) },
	"verack":     func() Message { return new(MsgVerAck) },
	"ping":       func() Message { return new(MsgPing) },
	"pong":       func() Message { return new(MsgPong) },
	"getaddr":    func() Message { return new(MsgGetAddr) },
	"addr":       func() Message { return new(MsgAddr) },
	"inv":        func() Message { return new(MsgInv) },
	"getdata":    func() Message { return new(MsgGetData) },
	"notfound":   func() Message { return new(MsgNotFound) },
	"getheaders": func() Message { return new(MsgGetHeaders) },
	"headers":    func() Message { return new(MsgHeaders) },
	"block":      func() Message { return new(MsgBlock) },
	"tx":         func() Message { return new(MsgTx) },
	"mempool":    func() Message { return new(MsgMempool) },
}

// WriteMessage frames and writes m.
func WriteMessage(w io.Writer, magic [4]byte, m Message) error {
	var payload bytes.Buffer
	m.encode(&payload)
	frame := make([]byte, frameHeaderSize, frameHeaderSize+payload.Len())
	copy(frame, magic[:])
	copy(frame[4:4+commandSize], m.Command())
	binary.LittleEndian.PutUint32(frame[16:], uint32(payload.Len()))
	sum := chain.DoubleSHA256(payload.Bytes())
	copy(frame[20:], sum[:4])
	_, err := w.Write(append(frame, payload.Bytes()...))
	return err
}

// ReadMessage reads one framed message. A foreign magic is ErrWrongNetwork;
// every other fault of the frame or payload wraps ErrMalformed; I/O errors
// are returned as they are.
func ReadMessage(r io.Reader, magic [4]byte) (Message, error) {
	var hdr [frameHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	if !bytes.Equal(hdr[:4], magic[:]) {
		return nil, fmt.Errorf("%w: %x", ErrWrongNetwork, hdr[:4])
	}
	name := string(bytes.TrimRight(hdr[4:16], "\x00"))
	mk, ok := messages[name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown command %q", ErrMalformed, name)
	}
	m := mk()
	size := binary.LittleEndian.Uint32(hdr[16:])
	if size > m.MaxPayload() {
		return nil, fmt.Errorf("%w: %s payload of %d bytes exceeds %d", ErrMalformed, name, size, m.MaxPayload())
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	if sum := chain.DoubleSHA256(payload); !bytes.Equal(sum[:4], hdr[20:24]) {
		return nil, fmt.Errorf("%w: %s checksum mismatch", ErrMalformed, name)
	}
	if err := decodePayload(m, payload); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
	}
	return m, nil
}

// decodePayload decodes the whole payload into m; trailing bytes are an error.
func decodePayload(m Message, payload []byte) error {
	r := bytes.NewReader(payload)
	if err := m.decode(r); err != nil {
		return err
	}
	if r.Len() != 0 {
		return fmt.Errorf("%d trailing bytes", r.Len())
	}
	return nil
}

func put(w *bytes.Buffer, v any) { binary.Write(w, binary.LittleEndian, v) }

func get(r *bytes.Reader, v any) error { return binary.Read(r, binary.LittleEndian, v) }

// getList reads a uint32 count no larger than max, then that many fixed-size items.
func getList[T any](r *bytes.Reader, max int) ([]T, error) {
	var n uint32
	if err := get(r, &n); err != nil {
		return nil, err
	}
	if n > uint32(max) {
		return nil, fmt.Errorf("%d items exceed %d", n, max)
	}
	items := make([]T, n)
	return items, get(r, items)
}

func putList[T any](w *bytes.Buffer, items []T) {
	put(w, uint32(len(items)))
	put(w, items)
}

// TipInfo is a node's main-chain tip as peers exchange it.
type TipInfo struct {
	Height uint64
	Hash   chain.Hash
	Work   [32]byte // cumulative work, big-endian
}

// work returns the cumulative work as a number.
func (t TipInfo) work() *big.Int { return new(big.Int).SetBytes(t.Work[:]) }

// MsgVersion opens a connection.
type MsgVersion struct {
	Protocol   uint32
	Genesis    chain.Hash
	NodeID     uint64 // random per process: a node that meets its own ID dialled itself
	ListenPort uint16 // 0: does not listen
	Tip        TipInfo
}

func (*MsgVersion) Command() string                { return "version" }
func (*MsgVersion) MaxPayload() uint32             { return 4 + 32 + 8 + 2 + 8 + 32 + 32 }
func (m *MsgVersion) encode(w *bytes.Buffer)       { put(w, m) }
func (m *MsgVersion) decode(r *bytes.Reader) error { return get(r, m) }

// emptyPayload is the payload of messages whose command says it all.
type emptyPayload struct{}

func (emptyPayload) MaxPayload() uint32         { return 0 }
func (emptyPayload) encode(*bytes.Buffer)       {}
func (emptyPayload) decode(*bytes.Reader) error { return nil }

// MsgVerAck accepts a version.
type MsgVerAck struct{ emptyPayload }

func (*MsgVerAck) Command() string { return "verack" }

// MsgPing checks liveness and carries the sender's tip.
type MsgPing struct {
	Nonce uint64
	Tip   TipInfo
}

func (*MsgPing) Command() string                { return "ping" }
func (*MsgPing) MaxPayload() uint32             { return 8 + 8 + 32 + 32 }
func (m *MsgPing) encode(w *bytes.Buffer)       { put(w, m) }
func (m *MsgPing) decode(r *bytes.Reader) error { return get(r, m) }

// MsgPong answers a ping with its nonce and the answerer's tip.
type MsgPong struct{ MsgPing }

func (*MsgPong) Command() string { return "pong" }

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
func (*MsgAddr) MaxPayload() uint32       { return 4 + MaxAddrs*netAddrSize }
func (m *MsgAddr) encode(w *bytes.Buffer) { putList(w, m.Addrs) }
func (m *MsgAddr) decode(r *bytes.Reader) (err error) {
	m.Addrs, err = getList[NetAddr](r, MaxAddrs)
	return err
}

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

// invList is the payload of inv, getdata and notfound.
type invList struct{ Items []InvItem }

func (*invList) MaxPayload() uint32       { return 4 + MaxInvItems*invItemSize }
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

func (*MsgInv) Command() string      { return "inv" }
func (*MsgGetData) Command() string  { return "getdata" }
func (*MsgNotFound) Command() string { return "notfound" }

// MsgGetHeaders asks for main-chain headers after the locator's first known block.
type MsgGetHeaders struct {
	Locator []chain.Hash
	Stop    chain.Hash // zero: as many as allowed
}

func (*MsgGetHeaders) Command() string    { return "getheaders" }
func (*MsgGetHeaders) MaxPayload() uint32 { return 4 + MaxLocator*32 + 32 }
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
func (*MsgHeaders) MaxPayload() uint32       { return 4 + chain.MaxHeaders*chain.HeaderSize }
func (m *MsgHeaders) encode(w *bytes.Buffer) { putList(w, m.Headers) }
func (m *MsgHeaders) decode(r *bytes.Reader) (err error) {
	m.Headers, err = getList[chain.Header](r, chain.MaxHeaders)
	return err
}

// MsgBlock carries one block.
type MsgBlock struct{ Block *chain.Block }

func (*MsgBlock) Command() string          { return "block" }
func (*MsgBlock) MaxPayload() uint32       { return chain.MaxBlockSize }
func (m *MsgBlock) encode(w *bytes.Buffer) { w.Write(m.Block.Bytes()) }
func (m *MsgBlock) decode(r *bytes.Reader) (err error) {
	m.Block, err = chain.DecodeBlock(rest(r))
	return err
}

// rest reads the rest of a payload: a block or a transaction is the whole
// of its message, and the chain's decoder checks it is exactly one.
func rest(r *bytes.Reader) []byte {
	b := make([]byte, r.Len())
	r.Read(b)
	return b
}

// maxTxPayload bounds a tx message: the largest valid transfer, with a memo
// of chain.MaxMemo bytes, takes 400.
const maxTxPayload = 1024

// MsgTx carries one transaction in the chain's encoding.
type MsgTx struct{ Tx *chain.Tx }

func (*MsgTx) Command() string          { return "tx" }
func (*MsgTx) MaxPayload() uint32       { return maxTxPayload }
func (m *MsgTx) encode(w *bytes.Buffer) { w.Write(m.Tx.Bytes()) }
func (m *MsgTx) decode(r *bytes.Reader) (err error) {
	m.Tx, err = chain.DecodeTx(rest(r))
	return err
}

// MsgMempool asks the peer to announce the transactions it has pending, as
// bitcoind's BIP 35 message does: a node that joins late learns them.
type MsgMempool struct{ emptyPayload }

func (*MsgMempool) Command() string { return "mempool" }
