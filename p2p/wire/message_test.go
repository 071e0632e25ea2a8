package wire

import (
	"bytes"
	"math/big"
	"reflect"
	"testing"

	"github.com/hashforge/hashforge/chain"
)

var magic = chain.Regtest.Magic

// payloadOf is m's encoded payload.
func payloadOf(m Message) []byte {
	var b bytes.Buffer
	m.encode(&b)
	return b.Bytes()
}

// transfer is the faucet's transfer of amount with nonce and memo (nil for
// none), signed for regtest.
func transfer(nonce, amount uint64, memo []byte) *chain.Tx {
	tx := &chain.Tx{Kind: chain.TxTransfer, To: chain.Address{0xee}, Amount: amount, Fee: 400, Nonce: nonce, Memo: memo}
	tx.Sign(chain.FaucetKey(), chain.Regtest.Magic)
	return tx
}

// sampleBlock is a block on regtest's genesis with a coinbase and two
// transfers: well formed, which is all the wire looks at, though its proof
// of work is not checked.
func sampleBlock() *chain.Block {
	g := chain.Regtest.Genesis
	b := &chain.Block{
		Header: chain.Header{Version: 1, PrevBlock: g.Hash(), Timestamp: g.Header.Timestamp + 1, Bits: g.Header.Bits, Nonce: 7},
		Txs:    []*chain.Tx{chain.NewCoinbase(1, chain.Address{1}, 50*chain.Coin, 3), transfer(0, 1, nil), transfer(1, 2, []byte("memo"))},
	}
	b.Header.MerkleRoot = chain.MerkleRoot(b.TxHashes())
	return b
}

// sampleMessages holds one message of every type with every field set, and
// lists at their limits: a limit the encoder can reach must decode.
func sampleMessages() map[string]Message {
	tip := TipInfo{Height: 1 << 40, Hash: chain.Hash{1, 2, 3}, Work: [32]byte{31: 7}}
	addrs := make([]NetAddr, MaxAddrs)
	for i := range addrs {
		addrs[i] = NetAddr{Port: uint16(i + 1), LastSeen: int64(i) << 33}
		copy(addrs[i].IP[:], []byte{10: 0xff, 11: 0xff, 12: 10, 13: byte(i >> 8), 14: byte(i), 15: 1})
	}
	items := make([]InvItem, MaxInvItems)
	for i := range items {
		items[i] = InvItem{Type: InvBlock, Hash: chain.DoubleSHA256([]byte{byte(i), byte(i >> 8)})}
	}
	locator := make([]chain.Hash, MaxLocator)
	for i := range locator {
		locator[i] = chain.Hash{byte(i), 0xee}
	}
	headers := make([]chain.Header, chain.MaxHeaders)
	for i := range headers {
		headers[i] = chain.Regtest.Genesis.Header
		headers[i].Nonce = uint32(i)
		headers[i].Version = -int32(i) // signed: the sign must survive
	}
	block := sampleBlock()
	txItems := make([]InvItem, len(block.Txs))
	for i, tx := range block.Txs {
		txItems[i] = InvItem{Type: InvTx, Hash: tx.Hash()}
	}
	return map[string]Message{
		"version":             &MsgVersion{Protocol: ProtocolVersion, Genesis: chain.Regtest.GenesisHash(), NodeID: 0xfeedface12345678, ListenPort: 18999, Tip: tip},
		"verack":              &MsgVerAck{},
		"ping":                &MsgPing{Nonce: 1<<64 - 1, Tip: tip},
		"pong":                &MsgPong{MsgPing{Nonce: 42, Tip: tip}},
		"getaddr":             &MsgGetAddr{},
		"addr":                &MsgAddr{Addrs: addrs[:2]},
		"addr empty":          &MsgAddr{Addrs: []NetAddr{}},
		"addr full":           &MsgAddr{Addrs: addrs},
		"inv":                 NewMsgInv(items[:1]),
		"inv full":            NewMsgInv(items),
		"getdata":             NewMsgGetData(items[:3]),
		"notfound":            NewMsgNotFound([]InvItem{{Type: 99, Hash: chain.Hash{9}}}),
		"getheaders":          &MsgGetHeaders{Locator: []chain.Hash{block.Hash(), chain.Regtest.GenesisHash()}, Stop: chain.Hash{0xff}},
		"getheaders full":     &MsgGetHeaders{Locator: locator},
		"headers":             &MsgHeaders{Headers: []chain.Header{chain.Regtest.Genesis.Header, block.Header}},
		"headers full":        &MsgHeaders{Headers: headers},
		"block":               &MsgBlock{Block: block},
		"block regtest gen.":  &MsgBlock{Block: chain.Regtest.Genesis},
		"tx":                  &MsgTx{Tx: transfer(7, chain.Coin, nil)},
		"tx largest transfer": &MsgTx{Tx: transfer(1<<64-1, chain.MaxMoney/2, bytes.Repeat([]byte{'m'}, chain.MaxMemo))},
		"tx coinbase":         &MsgTx{Tx: block.Txs[0]},
		"inv of transactions": NewMsgInv(txItems),
		"mempool":             &MsgMempool{},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	msgs := sampleMessages()
	// Every registered command needs a sample, so a new message type cannot
	// go untested.
	for _, cmd := range Commands() {
		if _, ok := msgs[cmd]; !ok {
			t.Errorf("no sample of %q", cmd)
		}
	}
	for name, m := range msgs {
		t.Run(name, func(t *testing.T) {
			enc := encodeFrame(t, m)
			if size := len(enc) - frameHeaderSize; uint32(size) > m.maxPayload() {
				t.Fatalf("payload of %d bytes exceeds its own maxPayload %d: peers would ban us", size, m.maxPayload())
			}
			r := bytes.NewReader(enc)
			got, err := ReadMessage(r, magic)
			if err != nil {
				t.Fatalf("ReadMessage: %v", err)
			}
			if r.Len() != 0 {
				t.Errorf("%d bytes of the frame left unread", r.Len())
			}
			if got.Command() != m.Command() {
				t.Errorf("command %q, want %q", got.Command(), m.Command())
			}
			if !reflect.DeepEqual(got, m) {
				t.Errorf("decoded %+v\nwant %+v", got, m)
			}
		})
	}
}

// Fixed-size messages are exactly their maxPayload: a smaller limit would
// ban every honest peer, a larger one would let a frame carry trailing bytes
// past the size check.
func TestFixedSizeMessages(t *testing.T) {
	for _, m := range []Message{&MsgVersion{}, &MsgPing{}, &MsgPong{}, &MsgVerAck{}, &MsgGetAddr{}, &MsgMempool{}} {
		if got := len(payloadOf(m)); uint32(got) != m.maxPayload() {
			t.Errorf("%s: payload of %d bytes, maxPayload %d", m.Command(), got, m.maxPayload())
		}
	}
}

// A tip travels as height, hash and work, and its work reads back as the
// number it was.
func TestTipInfo(t *testing.T) {
	tests := []struct {
		name string
		tip  chain.Tip
	}{
		{"genesis", chain.Tip{Hash: chain.Regtest.GenesisHash(), Work: chain.CalcWork(chain.Regtest.Genesis.Header.Bits)}},
		{"2^255", chain.Tip{Height: 1 << 63, Hash: chain.Hash{31: 1}, Work: new(big.Int).Lsh(big.NewInt(1), 255)}},
	}
	for _, tt := range tests {
		ti := NewTipInfo(tt.tip)
		if ti.Height != tt.tip.Height || ti.Hash != tt.tip.Hash || ti.WorkInt().Cmp(tt.tip.Work) != 0 {
			t.Errorf("%s: %+v reads back as height %d hash %s work %s", tt.name, tt.tip, ti.Height, ti.Hash, ti.WorkInt())
		}
	}
}
