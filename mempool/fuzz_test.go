package mempool

import (
	"bytes"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/chain/chaintest"
)

// FuzzDecodeFile: no input makes the mempool file's decoder panic or
// allocate beyond the input, and whatever it accepts encodes back to the
// same bytes, so nothing in a file goes unchecked by the checksum.
func FuzzDecodeFile(f *testing.F) {
	key, to := chaintest.NewKey("fuzz")
	added := time.Unix(1_700_000_000, 123)
	f.Add(encodeFile(chain.Regtest.Magic, nil))
	f.Add(encodeFile(chain.Regtest.Magic, []Entry{
		{Tx: chaintest.Transfer(key, to, 1, 200, 0, nil), Added: added},
		{Tx: chaintest.Transfer(key, to, 2, 300, 1, []byte("memo")), Added: added.Add(time.Second)},
	}))
	f.Add([]byte("hfmp"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := decodeFile(b, chain.Regtest.Magic)
		if err != nil {
			return
		}
		if again := encodeFile(chain.Regtest.Magic, entries); !bytes.Equal(again, b) {
			t.Fatalf("decoded %d transactions that encode to other bytes", len(entries))
		}
	})
}
