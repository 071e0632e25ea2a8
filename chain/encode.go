package chain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errNonCanonical rejects varints that could be written shorter: every value
// has one encoding, so an object's bytes (and hash) are unique.
var errNonCanonical = errors.New("non-canonical varint")

// appendVarInt appends Bitcoin's CompactSize encoding of v.
func appendVarInt(b []byte, v uint64) []byte {
	switch {
	case v < 0xfd:
		return append(b, byte(v))
	case v <= 0xffff:
		return binary.LittleEndian.AppendUint16(append(b, 0xfd), uint16(v))
	case v <= 0xffffffff:
		return binary.LittleEndian.AppendUint32(append(b, 0xfe), uint32(v))
	default:
		return binary.LittleEndian.AppendUint64(append(b, 0xff), v)
	}
}

// reader decodes from a byte slice. The first error sticks, so a decoder reads
// every field and checks once at the end.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = io.ErrUnexpectedEOF
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *reader) u8() byte {
	if p := r.next(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u32() uint32 {
	if p := r.next(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if p := r.next(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (r *reader) bytes(dst []byte) { copy(dst, r.next(len(dst))) }

// varInt reads a canonical CompactSize no larger than max.
func (r *reader) varInt(max uint64) uint64 {
	var v, min uint64
	switch d := r.u8(); d {
	case 0xfd:
		if p := r.next(2); p != nil {
			v, min = uint64(binary.LittleEndian.Uint16(p)), 0xfd
		}
	case 0xfe:
		v, min = uint64(r.u32()), 0x10000
	case 0xff:
		v, min = r.u64(), 0x100000000
	default:
		v = uint64(d)
	}
	if r.err != nil {
		return 0
	}
	if v < min {
		r.err = errNonCanonical
		return 0
	}
	if v > max {
		r.err = fmt.Errorf("count %d exceeds limit %d", v, max)
		return 0
	}
	return v
}

// done reports the sticky error, or trailing bytes when the input must be consumed whole.
func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if r.off != len(r.b) {
		return fmt.Errorf("%d trailing bytes", len(r.b)-r.off)
	}
	return nil
}
