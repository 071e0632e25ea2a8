package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/hashforge/hashforge/chain"
)

// Payloads are fixed-size little-endian fields, lists of them, or one block
// or transaction in the chain's own encoding.

var le = binary.LittleEndian

// put writes v as binary.Write does. The payloads every relay carries
// (inventory lists, pings, addresses, hashes) are written field by field:
// binary.Write walks a value by reflection, which was a fifth of the time of
// a simulated network. TestCodecMatchesBinary holds the two to one encoding.
func put(w *bytes.Buffer, v any) {
	switch v := v.(type) {
	case uint32:
		w.Write(le.AppendUint32(w.AvailableBuffer(), v))
	case chain.Hash:
		w.Write(v[:])
	case []chain.Hash:
		for _, h := range v {
			w.Write(h[:])
		}
	case []InvItem:
		w.Grow(len(v) * invItemSize)
		for _, it := range v {
			w.Write(le.AppendUint32(w.AvailableBuffer(), it.Type))
			w.Write(it.Hash[:])
		}
	case []NetAddr:
		w.Grow(len(v) * netAddrSize)
		for _, a := range v {
			w.Write(a.IP[:])
			b := le.AppendUint16(w.AvailableBuffer(), a.Port)
			w.Write(le.AppendUint64(b, uint64(a.LastSeen)))
		}
	case *MsgPing:
		b := le.AppendUint64(w.AvailableBuffer(), v.Nonce)
		w.Write(le.AppendUint64(b, v.Tip.Height))
		w.Write(v.Tip.Hash[:])
		w.Write(v.Tip.Work[:])
	default:
		binary.Write(w, le, v)
	}
}

// get reads v as binary.Read does, with put's fast paths: io.EOF when r is
// empty, io.ErrUnexpectedEOF when it ends inside v.
func get(r *bytes.Reader, v any) error {
	var size int
	switch v := v.(type) {
	case *uint32:
		size = 4
	case *chain.Hash:
		size = len(v)
	case []chain.Hash:
		size = len(v) * len(chain.Hash{})
	case []InvItem:
		size = len(v) * invItemSize
	case []NetAddr:
		size = len(v) * netAddrSize
	case *MsgPing:
		size = 8 + 8 + 32 + 32
	default:
		return binary.Read(r, le, v)
	}
	if r.Len() < size {
		if r.Len() == 0 {
			return io.EOF
		}
		r.Seek(0, io.SeekEnd)
		return io.ErrUnexpectedEOF
	}
	switch v := v.(type) {
	case *uint32:
		*v = u32(r)
	case *chain.Hash:
		r.Read(v[:])
	case []chain.Hash:
		for i := range v {
			r.Read(v[i][:])
		}
	case []InvItem:
		for i := range v {
			v[i].Type = u32(r)
			r.Read(v[i].Hash[:])
		}
	case []NetAddr:
		for i := range v {
			r.Read(v[i].IP[:])
			v[i].Port = u16(r)
			v[i].LastSeen = int64(u64(r))
		}
	case *MsgPing:
		v.Nonce = u64(r)
		v.Tip.Height = u64(r)
		r.Read(v.Tip.Hash[:])
		r.Read(v.Tip.Work[:])
	}
	return nil
}

// u16, u32 and u64 read what get has checked is there.
func u16(r *bytes.Reader) uint16 {
	var b [2]byte
	r.Read(b[:])
	return le.Uint16(b[:])
}

func u32(r *bytes.Reader) uint32 {
	var b [4]byte
	r.Read(b[:])
	return le.Uint32(b[:])
}

func u64(r *bytes.Reader) uint64 {
	var b [8]byte
	r.Read(b[:])
	return le.Uint64(b[:])
}

// getList reads a uint32 count no larger than max, then that many fixed-size
// items: the count is checked before anything is allocated for it.
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

// rest reads the rest of a payload: a block or a transaction is the whole
// of its message, and the chain's decoder checks it is exactly one.
func rest(r *bytes.Reader) []byte {
	b := make([]byte, r.Len())
	r.Read(b)
	return b
}

// emptyPayload is the payload of messages whose command says it all.
type emptyPayload struct{}

func (emptyPayload) maxPayload() uint32         { return 0 }
func (emptyPayload) encode(*bytes.Buffer)       {}
func (emptyPayload) decode(*bytes.Reader) error { return nil }
