package mempool

import (
	"errors"
	"fmt"

	"github.com/hashforge/hashforge/chain"
)

// ErrorCode names why the pool refused a transaction, in the form of the
// chain's rule codes (ErrorCode, Err* constants, Code(err)). Codes of
// consensus rules are the chain's (bad-signature, bad-amount,
// memo-too-long, ...); the ones below are the pool's own policy. The
// strings are stable: the API returns them.
type ErrorCode string

const (
	ErrCoinbase          ErrorCode = "coinbase"        // a coinbase outside a block
	ErrKnown             ErrorCode = "already-pending" // the same transaction is pending
	ErrFeeTooLow         ErrorCode = "fee-too-low"     // below the minimum fee rate
	ErrNonceTooLow       ErrorCode = "nonce-too-low"   // the sender's nonce has moved past it
	ErrNonceGap          ErrorCode = "nonce-gap"       // a nonce beyond the sender's next
	ErrReplacementFee    ErrorCode = "replacement-fee-too-low"
	ErrFull              ErrorCode = "mempool-full"
	ErrInsufficientFunds           = ErrorCode(chain.ErrInsufficientFunds)
)

// RejectError is a transaction the pool refused: a code to branch on and a
// message for people.
type RejectError struct {
	Code ErrorCode
	Msg  string
}

func (e *RejectError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Msg) }

func reject(code ErrorCode, format string, args ...any) error {
	return &RejectError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Code returns the code of a refusal, or "" when err is not one.
func Code(err error) ErrorCode {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}
