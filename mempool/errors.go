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

// A refusal also says what it means for whoever offered the transaction, so
// a caller that relays transactions (the peer layer) can tell a peer's fault
// from a difference between pools without knowing every code. The peer
// layer asks for these methods through an interface of its own.

// AlreadyPending reports that the transaction is pending already: nothing
// was refused.
func (e *RejectError) AlreadyPending() bool { return e.Code == ErrKnown }

// NonceGap reports a nonce beyond the sender's next: the transaction may be
// admitted once those before it are.
func (e *RejectError) NonceGap() bool { return e.Code == ErrNonceGap }

// Invalid reports a transaction that breaks a consensus rule whatever the
// chain's state or the pool's policy (a bad signature, an amount over the
// money supply, an over-long memo, a coinbase): no pool ever admits it. The
// other refusals depend on what a pool has seen and how it is configured,
// which differ between nodes.
func (e *RejectError) Invalid() bool {
	switch e.Code {
	case ErrKnown, ErrNonceGap, ErrNonceTooLow, ErrFeeTooLow, ErrInsufficientFunds, ErrReplacementFee, ErrFull:
		return false
	}
	return true
}

// Code returns the code of a refusal, or "" when err is not one.
func Code(err error) ErrorCode {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}
