package wire

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/hashforge/hashforge/chain"
)

// put and get's fast paths encode as binary.Write and binary.Read do, and
// fail alike on a payload cut short anywhere.
func TestCodecMatchesBinary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(b []byte) {
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
	}
	hash := func() (h chain.Hash) { fill(h[:]); return h }
	invs := make([]InvItem, 3)
	for i := range invs {
		invs[i] = InvItem{Type: rng.Uint32(), Hash: hash()}
	}
	addrs := make([]NetAddr, 2)
	for i := range addrs {
		fill(addrs[i].IP[:])
		addrs[i].Port, addrs[i].LastSeen = uint16(rng.Uint32()), rng.Int64()-rng.Int64()
	}
	ping := &MsgPing{Nonce: rng.Uint64(), Tip: TipInfo{Height: rng.Uint64(), Hash: hash()}}
	fill(ping.Tip.Work[:])
	for _, v := range []any{rng.Uint32(), hash(), []chain.Hash{hash(), hash()}, invs, addrs, ping, []InvItem{}} {
		name := reflect.TypeOf(v).String()
		var want, got bytes.Buffer
		binary.Write(&want, le, v)
		put(&got, v)
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: put wrote %x, binary.Write %x", name, got.Bytes(), want.Bytes())
		}
		// Read back into a fresh value of the same shape, from the whole
		// encoding and from every cut of it.
		fresh := func() any {
			rv := reflect.ValueOf(v)
			if rv.Kind() == reflect.Slice {
				return reflect.MakeSlice(rv.Type(), rv.Len(), rv.Len()).Interface()
			}
			if rv.Kind() == reflect.Pointer {
				return reflect.New(rv.Type().Elem()).Interface()
			}
			return reflect.New(rv.Type()).Interface()
		}
		for cut := 0; cut <= want.Len(); cut++ {
			a, b := fresh(), fresh()
			errGet := get(bytes.NewReader(want.Bytes()[:cut]), a)
			errBinary := binary.Read(bytes.NewReader(want.Bytes()[:cut]), le, b)
			if errGet != errBinary {
				t.Errorf("%s cut at %d: get says %v, binary.Read %v", name, cut, errGet, errBinary)
			}
			if errGet == nil && !reflect.DeepEqual(a, b) {
				t.Errorf("%s: get read %v, binary.Read %v", name, a, b)
			}
		}
	}
}
