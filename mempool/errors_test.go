package mempool

import (
	"testing"

	"github.com/hashforge/hashforge/chain"
)

// Every refusal says what it means for whoever offered the transaction:
// only the consensus rules that hold whatever the state make it invalid.
// The peer layer bans on Invalid, so this table is which refusals ban a peer.
func TestRefusalMeaning(t *testing.T) {
	tests := []struct {
		code                  ErrorCode
		pending, gap, invalid bool
	}{
		{ErrKnown, true, false, false},
		{ErrNonceGap, false, true, false},
		{ErrNonceTooLow, false, false, false},
		{ErrFeeTooLow, false, false, false},
		{ErrInsufficientFunds, false, false, false},
		{ErrReplacementFee, false, false, false},
		{ErrFull, false, false, false},
		{ErrCoinbase, false, false, true},
		{ErrorCode(chain.ErrBadSignature), false, false, true},
		{ErrorCode(chain.ErrBadAmount), false, false, true},
		{ErrorCode(chain.ErrMemoTooLong), false, false, true},
	}
	for _, tt := range tests {
		e := &RejectError{Code: tt.code}
		if e.AlreadyPending() != tt.pending || e.NonceGap() != tt.gap || e.Invalid() != tt.invalid {
			t.Errorf("%s: AlreadyPending %v, NonceGap %v, Invalid %v; want %v, %v, %v",
				tt.code, e.AlreadyPending(), e.NonceGap(), e.Invalid(), tt.pending, tt.gap, tt.invalid)
		}
	}
}
