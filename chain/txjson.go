package chain

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// txJSON is a transaction as the API and the wallet exchange it. Amounts are
// integer units; a memo travels as text when it is valid UTF-8 and as hex
// otherwise, so every memo survives the round trip byte for byte.
type txJSON struct {
	TxID       *Hash       `json:"txid,omitempty"`
	Kind       string      `json:"kind"`
	Height     *uint64     `json:"height,omitempty"`
	ExtraNonce *uint64     `json:"extranonce,omitempty"`
	From       string      `json:"from,omitempty"`   // sender's public key, hex
	Sender     *Address    `json:"sender,omitempty"` // its address, for readers; ignored on input
	To         Address     `json:"to"`
	Amount     json.Number `json:"amount"`
	Fee        json.Number `json:"fee,omitempty"`
	Nonce      json.Number `json:"nonce,omitempty"`
	Memo       *string     `json:"memo,omitempty"`
	MemoHex    string      `json:"memo_hex,omitempty"`
	Signature  string      `json:"signature,omitempty"`
}

var kindNames = map[TxKind]string{TxCoinbase: "coinbase", TxTransfer: "transfer"}

// MarshalJSON writes the transaction with its txid.
func (tx *Tx) MarshalJSON() ([]byte, error) {
	id := tx.Hash()
	j := txJSON{TxID: &id, Kind: kindNames[tx.Kind], To: tx.To, Amount: units(tx.Amount)}
	if tx.IsCoinbase() {
		j.Height, j.ExtraNonce = &tx.Height, &tx.ExtraNonce
		return json.Marshal(j)
	}
	sender := tx.Sender()
	j.From, j.Sender = hex.EncodeToString(tx.From[:]), &sender
	j.Fee, j.Nonce = units(tx.Fee), units(tx.Nonce)
	switch {
	case len(tx.Memo) == 0:
	case utf8.Valid(tx.Memo):
		memo := string(tx.Memo)
		j.Memo = &memo
	default:
		j.MemoHex = hex.EncodeToString(tx.Memo)
	}
	j.Signature = hex.EncodeToString(tx.Signature[:])
	return json.Marshal(j)
}

func units(v uint64) json.Number { return json.Number(strconv.FormatUint(v, 10)) }

// UnmarshalJSON reads a transfer (kind may be left out) or a coinbase. Unknown
// fields are refused, an amount beyond 64 bits is a bad-amount rule error, and
// a txid, when given, must match the transaction.
func (tx *Tx) UnmarshalJSON(b []byte) error {
	var j txJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	var t Tx
	switch j.Kind {
	case "", kindNames[TxTransfer]:
		t.Kind = TxTransfer
	case kindNames[TxCoinbase]:
		t.Kind = TxCoinbase
		if j.Height == nil || j.ExtraNonce == nil {
			return fmt.Errorf("coinbase: height and extranonce are required")
		}
		t.Height, t.ExtraNonce = *j.Height, *j.ExtraNonce
	default:
		return fmt.Errorf("unknown transaction kind %q", j.Kind)
	}
	t.To = j.To
	var err error
	if t.Amount, err = parseUnits("amount", j.Amount); err != nil {
		return err
	}
	if t.Kind == TxTransfer {
		if t.Fee, err = parseUnits("fee", j.Fee); err != nil {
			return err
		}
		if t.Nonce, err = parseUnits("nonce", j.Nonce); err != nil {
			return err
		}
		if err := decodeHexField("from", j.From, t.From[:]); err != nil {
			return err
		}
		if err := decodeHexField("signature", j.Signature, t.Signature[:]); err != nil {
			return err
		}
		switch {
		case j.Memo != nil && j.MemoHex != "":
			return fmt.Errorf("memo and memo_hex are exclusive")
		case j.Memo != nil:
			t.Memo = []byte(*j.Memo)
		case j.MemoHex != "":
			if t.Memo, err = hex.DecodeString(j.MemoHex); err != nil {
				return fmt.Errorf("memo_hex: %w", err)
			}
		}
	}
	if j.TxID != nil && *j.TxID != t.Hash() {
		return fmt.Errorf("txid %s does not match the transaction, which hashes to %s", *j.TxID, t.Hash())
	}
	*tx = t
	return nil
}

// parseUnits reads a JSON number of units. Numbers beyond 64 bits are an
// amount overflow, reported as the rule the transaction breaks.
func parseUnits(field string, n json.Number) (uint64, error) {
	if n == "" {
		return 0, fmt.Errorf("%s is required", field)
	}
	v, err := strconv.ParseUint(string(n), 10, 64)
	if err == nil {
		return v, nil
	}
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return 0, ruleErrorf(ErrBadAmount, "%s %s overflows", field, n)
	}
	return 0, fmt.Errorf("%s %s: want a whole number of units", field, n)
}

func decodeHexField(field, s string, dst []byte) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return fmt.Errorf("%s: want %d hex digits", field, 2*len(dst))
	}
	copy(dst, b)
	return nil
}
