package stratum

import (
	"math/big"

	"github.com/hashforge/hashforge/chain"
)

// CheckShare is checkShare for the vector tests: the server's check of a
// share that needs no connection.
func CheckShare(j *Job, extranonce1 []byte, s *Submit, mask uint32, target *big.Int) (h chain.Header, block bool, code int, err error) {
	h, block, rerr := checkShare(j, extranonce1, s, mask, target)
	if rerr != nil {
		return h, block, rerr.code, rerr
	}
	return h, block, 0, nil
}
