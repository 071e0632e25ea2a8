package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Amounts are integer units; one coin is 10^8 units.
const (
	Coin     uint64 = 100_000_000
	MaxMoney        = 21_000_000 * Coin // no amount, fee or balance may exceed it
	// MaxMemo bounds the free-form memo a transfer may carry.
	MaxMemo = 256
)

// TxKind tells a coinbase from a transfer; it is the first byte of a transaction.
type TxKind uint8

const (
	TxCoinbase TxKind = 0
	TxTransfer TxKind = 1
)

// AddressSize is the length of an account address.
const AddressSize = 20

// Address names an account: the first 20 bytes of SHA-256 of its ed25519 public key.
type Address [AddressSize]byte

// AddressOf returns the address of an ed25519 public key.
func AddressOf(pub ed25519.PublicKey) Address {
	sum := sha256.Sum256(pub)
	var a Address
	copy(a[:], sum[:AddressSize])
	return a
}

func (a Address) String() string { return hex.EncodeToString(a[:]) }

// ParseAddress reads an address written as 40 hex digits.
func ParseAddress(s string) (Address, error) {
	var a Address
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != AddressSize {
		return a, fmt.Errorf("address %q: want %d hex digits", s, 2*AddressSize)
	}
	copy(a[:], b)
	return a, nil
}

// MarshalText writes the address as hex for JSON.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads a hex address.
func (a *Address) UnmarshalText(b []byte) error {
	v, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Tx is a transaction in the account model. A coinbase pays the block reward
// (subsidy + fees) to To; a transfer moves Amount from the account of From to To,
// pays Fee to the miner, and is ordered by the sender's Nonce.
//
// Encodings:
//
//	coinbase: kind=0 (1) | height (8) | extranonce (8) | to (20) | amount (8)
//	transfer: kind=1 (1) | from (32) | to (20) | amount (8) | fee (8) | nonce (8) |
//	          memo length (varint) | memo | signature (64)
//
// The extranonce sits at a fixed offset (CoinbaseExtraNonceOffset) so a Stratum
// job can split the coinbase as coinb1 | extranonce1 (4) | extranonce2 (4) | coinb2.
type Tx struct {
	Kind   TxKind
	To     Address
	Amount uint64

	// Coinbase fields. Height makes every coinbase, and so its txid, unique.
	Height     uint64
	ExtraNonce uint64

	// Transfer fields.
	From      [ed25519.PublicKeySize]byte
	Fee       uint64
	Nonce     uint64
	Memo      []byte
	Signature [ed25519.SignatureSize]byte
}

// CoinbaseExtraNonceOffset is where the 8-byte extranonce starts in an encoded coinbase.
const CoinbaseExtraNonceOffset = 1 + 8

const (
	coinbaseSize    = 1 + 8 + 8 + AddressSize + 8
	transferMinSize = 1 + ed25519.PublicKeySize + AddressSize + 8 + 8 + 8 + 1 + ed25519.SignatureSize
)

// NewCoinbase returns the coinbase of a block at height paying amount to addr.
func NewCoinbase(height uint64, to Address, amount uint64, extraNonce uint64) *Tx {
	return &Tx{Kind: TxCoinbase, Height: height, To: to, Amount: amount, ExtraNonce: extraNonce}
}

// IsCoinbase reports whether tx is a coinbase.
func (tx *Tx) IsCoinbase() bool { return tx.Kind == TxCoinbase }

// Sender returns the address that pays for a transfer.
func (tx *Tx) Sender() Address { return AddressOf(tx.From[:]) }

// Bytes returns the transaction's encoding.
func (tx *Tx) Bytes() []byte {
	if tx.IsCoinbase() {
		return tx.appendCoinbase(make([]byte, 0, coinbaseSize))
	}
	b := tx.appendBody(make([]byte, 0, transferMinSize+len(tx.Memo)+8))
	return append(b, tx.Signature[:]...)
}

func (tx *Tx) appendCoinbase(b []byte) []byte {
	b = append(b, byte(TxCoinbase))
	b = binary.LittleEndian.AppendUint64(b, tx.Height)
	b = binary.LittleEndian.AppendUint64(b, tx.ExtraNonce)
	b = append(b, tx.To[:]...)
	return binary.LittleEndian.AppendUint64(b, tx.Amount)
}

// appendBody appends a transfer without its signature: what gets signed.
func (tx *Tx) appendBody(b []byte) []byte {
	b = append(b, byte(TxTransfer))
	b = append(b, tx.From[:]...)
	b = append(b, tx.To[:]...)
	b = binary.LittleEndian.AppendUint64(b, tx.Amount)
	b = binary.LittleEndian.AppendUint64(b, tx.Fee)
	b = binary.LittleEndian.AppendUint64(b, tx.Nonce)
	b = appendVarInt(b, uint64(len(tx.Memo)))
	return append(b, tx.Memo...)
}

// Size returns the length of the transaction's encoding in bytes.
func (tx *Tx) Size() int {
	if tx.IsCoinbase() {
		return coinbaseSize
	}
	var n [9]byte
	return transferMinSize - 1 + len(appendVarInt(n[:0], uint64(len(tx.Memo)))) + len(tx.Memo)
}

// Hash returns the txid, SHA-256d of the encoding.
func (tx *Tx) Hash() Hash { return DoubleSHA256(tx.Bytes()) }

// sigMessage is what a transfer's signature covers: the network's magic, so a
// transaction cannot be replayed on another network, then the body.
func (tx *Tx) sigMessage(magic [4]byte) []byte {
	return tx.appendBody(append(make([]byte, 0, 4+transferMinSize+len(tx.Memo)), magic[:]...))
}

// Sign fills From and Signature for the network with magic.
func (tx *Tx) Sign(key ed25519.PrivateKey, magic [4]byte) {
	copy(tx.From[:], key.Public().(ed25519.PublicKey))
	copy(tx.Signature[:], ed25519.Sign(key, tx.sigMessage(magic)))
}

// CheckSanity applies the rules that need nothing but the transaction and the
// network's magic: amounts within the money supply, the memo limit and the
// signature, which sigs (nil: none) may know verified already, and learns
// when it does. A failure is a *RuleError.
func (tx *Tx) CheckSanity(magic [4]byte, sigs *SigCache) error {
	if tx.Amount > MaxMoney {
		return ruleErrorf(ErrBadAmount, "amount %d exceeds the money supply", tx.Amount)
	}
	if tx.IsCoinbase() {
		return nil
	}
	if tx.Fee > MaxMoney || tx.Amount+tx.Fee > MaxMoney {
		return ruleErrorf(ErrBadAmount, "amount %d plus fee %d exceeds the money supply", tx.Amount, tx.Fee)
	}
	if len(tx.Memo) > MaxMemo {
		return ruleErrorf(ErrMemoTooLong, "memo of %d bytes exceeds %d", len(tx.Memo), MaxMemo)
	}
	id := tx.Hash()
	if sigs.has(id) {
		return nil
	}
	if !ed25519.Verify(tx.From[:], tx.sigMessage(magic), tx.Signature[:]) {
		return ruleErrorf(ErrBadSignature, "transaction %s: signature does not verify", id)
	}
	sigs.add(id)
	return nil
}

// DecodeTx reads exactly one encoded transaction.
func DecodeTx(b []byte) (*Tx, error) {
	r := &reader{b: b}
	tx := readTx(r)
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("transaction: %w", err)
	}
	return tx, nil
}

func readTx(r *reader) *Tx {
	tx := &Tx{Kind: TxKind(r.u8())}
	switch tx.Kind {
	case TxCoinbase:
		tx.Height = r.u64()
		tx.ExtraNonce = r.u64()
		r.bytes(tx.To[:])
		tx.Amount = r.u64()
	case TxTransfer:
		r.bytes(tx.From[:])
		r.bytes(tx.To[:])
		tx.Amount = r.u64()
		tx.Fee = r.u64()
		tx.Nonce = r.u64()
		// The memo limit is a consensus rule with its own error code, so the
		// decoder only bounds what it will allocate.
		if n := r.varInt(MaxBlockSize); n > 0 {
			tx.Memo = append([]byte(nil), r.next(int(n))...)
		}
		r.bytes(tx.Signature[:])
	default:
		if r.err == nil {
			r.err = fmt.Errorf("unknown transaction kind %d", tx.Kind)
		}
	}
	return tx
}
