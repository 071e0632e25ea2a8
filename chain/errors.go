package chain

import (
	"errors"
	"fmt"
)

// ErrorCode names the consensus rule a block or transaction broke, so callers
// (peers, the miner, tests) can branch on it and ban scores can weigh it.
type ErrorCode string

// Rule error codes. The strings are stable: they appear in logs and the API.
const (
	ErrDuplicateBlock    ErrorCode = "duplicate-block"
	ErrOrphan            ErrorCode = "orphan"            // parent unknown
	ErrInvalidAncestor   ErrorCode = "invalid-ancestor"  // builds on a block known invalid
	ErrBadPoW            ErrorCode = "bad-pow"           // hash above target
	ErrBadBits           ErrorCode = "bad-bits"          // bits not what the network requires
	ErrBadMerkleRoot     ErrorCode = "bad-merkle-root"   // header does not commit to the transactions
	ErrTimeTooNew        ErrorCode = "time-too-new"      // more than 2 h ahead of our clock
	ErrTimeTooOld        ErrorCode = "time-too-old"      // not after the median of the last 11 blocks
	ErrBlockTooBig       ErrorCode = "block-too-big"     // encoded block over MaxBlockSize
	ErrNoCoinbase        ErrorCode = "no-coinbase"       // first transaction is not a coinbase
	ErrMultipleCoinbase  ErrorCode = "multiple-coinbase" // a coinbase after the first transaction
	ErrBadCoinbaseHeight ErrorCode = "bad-coinbase-height"
	ErrBadCoinbaseAmount ErrorCode = "bad-coinbase-amount" // not subsidy + fees
	ErrDuplicateTx       ErrorCode = "duplicate-tx"
	ErrBadAmount         ErrorCode = "bad-amount" // above MaxMoney or overflowing
	ErrMemoTooLong       ErrorCode = "memo-too-long"
	ErrBadSignature      ErrorCode = "bad-signature"
	ErrInsufficientFunds ErrorCode = "insufficient-funds"
	ErrBadNonce          ErrorCode = "bad-nonce"        // sender nonce is not the account's next
	ErrUnlinkedHeaders   ErrorCode = "unlinked-headers" // a header in a list that is not the child of the one before
)

// RuleError is a broken consensus rule: a code to branch on and a message for people.
type RuleError struct {
	Code ErrorCode
	Msg  string
}

func (e *RuleError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Msg) }

func ruleErrorf(code ErrorCode, format string, args ...any) error {
	return &RuleError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Code returns the rule error code inside err, or "" when err is not a rule error.
func Code(err error) ErrorCode {
	var re *RuleError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}
