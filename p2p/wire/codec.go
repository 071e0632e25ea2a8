package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Payloads are fixed-size little-endian fields, lists of them, or one block
// or transaction in the chain's own encoding.

func put(w *bytes.Buffer, v any) { binary.Write(w, binary.LittleEndian, v) }

func get(r *bytes.Reader, v any) error { return binary.Read(r, binary.LittleEndian, v) }

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
