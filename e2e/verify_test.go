//go:build unix

package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/store"
)

// Bucket names as store/store.go writes them.
var (
	bucketBlocks   = []byte("blocks")
	bucketIndex    = []byte("index")
	bucketMain     = []byte("main")
	bucketAccounts = []byte("accounts")
	bucketUndo     = []byte("undo")
	bucketMeta     = []byte("meta")
)

// Every value in the store is a record, as store/record.go writes it: a
// CRC-32C of key and value (4 bytes, big-endian), then the value. The tests
// that change what the store holds, rather than damage it, seal what they
// write, or the checksum would be all verify reports.
func seal(key, value []byte) []byte {
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	sum := crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, value)
	return append(binary.BigEndian.AppendUint32(nil, sum), value...)
}

// unseal returns a copy of a record's value.
func unseal(rec []byte) []byte { return bytes.Clone(rec[4:]) }

// mainHash returns the key of the main-chain block at height.
func mainHash(tx *bolt.Tx, height uint64) ([]byte, error) {
	h := tx.Bucket(bucketMain).Get(binary.BigEndian.AppendUint64(nil, height))
	if h == nil {
		return nil, fmt.Errorf("no main-chain block at height %d", height)
	}
	return unseal(h), nil
}

// editFirstAccount rewrites the first stored account.
func editFirstAccount(edit func(*chain.Account)) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		k, v := b.Cursor().First()
		if k == nil {
			return fmt.Errorf("no accounts")
		}
		acc, err := chain.DecodeAccount(unseal(v))
		if err != nil {
			return err
		}
		edit(&acc)
		return b.Put(bytes.Clone(k), seal(k, acc.Bytes()))
	}
}

// editAtHeight changes the record in bucket keyed by the main-chain block at height 2.
func editAtHeight(bucket []byte, edit func(b *bolt.Bucket, hash []byte) error) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		h, err := mainHash(tx, 2)
		if err != nil {
			return err
		}
		return edit(tx.Bucket(bucket), h)
	}
}

// TestVerify checks that verify passes an intact chain and fails, naming
// the fault, on every kind of damage a chain.db can take, and on datadirs
// that hold no chain of the network asked for.
func TestVerify(t *testing.T) {
	mined := t.TempDir()
	mineAndStop(t, nodeOpts{datadir: mined, interval: "50ms"}, 3)
	// Corrupt copies of it, one per case, after the node has stopped.
	corrupt := func(mutate func(*bolt.Tx) error) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := t.TempDir()
			raw, err := os.ReadFile(filepath.Join(mined, store.FileName))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, store.FileName)
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if mutate != nil {
				if err := db.Update(mutate); err != nil {
					t.Fatalf("corrupt the store: %v", err)
				}
			}
			return dir
		}
	}
	tests := []struct {
		name    string
		network string
		datadir func(t *testing.T) string
		want    string // substring of stderr; empty for a chain that verifies
	}{
		{"intact copy", "regtest", corrupt(nil), ""},
		{"balance raised", "regtest", corrupt(editFirstAccount(func(a *chain.Account) { a.Balance++ })), "account"},
		{"nonce changed", "regtest", corrupt(editFirstAccount(func(a *chain.Account) { a.Nonce++ })), "account"},
		{"account deleted", "regtest", corrupt(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAccounts)
			k, _ := b.Cursor().First()
			return b.Delete(append([]byte(nil), k...))
		}), "accounts"},
		{"account added", "regtest", corrupt(func(tx *bolt.Tx) error {
			// Not the zero address: genesis pays that one.
			addr := bytes.Repeat([]byte{0xff}, chain.AddressSize)
			return tx.Bucket(bucketAccounts).Put(addr, seal(addr, chain.Account{Balance: 1}.Bytes()))
		}), "account"},
		{"main entry deleted", "regtest", corrupt(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMain).Delete(binary.BigEndian.AppendUint64(nil, 1))
		}), "height 1 is missing"},
		{"main entries swapped", "regtest", corrupt(func(tx *bolt.Tx) error {
			h1, err := mainHash(tx, 1)
			if err != nil {
				return err
			}
			h2, err := mainHash(tx, 2)
			if err != nil {
				return err
			}
			b := tx.Bucket(bucketMain)
			k1, k2 := binary.BigEndian.AppendUint64(nil, 1), binary.BigEndian.AppendUint64(nil, 2)
			b.Put(k1, seal(k1, h2))
			return b.Put(k2, seal(k2, h1))
		}), "height 1"},
		{"tip moved back", "regtest", corrupt(func(tx *bolt.Tx) error {
			h, err := mainHash(tx, 1)
			if err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put([]byte("tip"), seal([]byte("tip"), h))
		}), "stored tip"},
		{"block bytes changed", "regtest", corrupt(editAtHeight(bucketBlocks, func(b *bolt.Bucket, h []byte) error {
			raw := unseal(b.Get(h))
			raw[68] ^= 1 // the header's timestamp
			return b.Put(h, seal(h, raw))
		})), "hashes to"},
		{"block deleted", "regtest", corrupt(editAtHeight(bucketBlocks, func(b *bolt.Bucket, h []byte) error {
			return b.Delete(h)
		})), "has no block"},
		{"undo data deleted", "regtest", corrupt(editAtHeight(bucketUndo, func(b *bolt.Bucket, h []byte) error {
			return b.Delete(h)
		})), "undo data"},
		{"undo data emptied", "regtest", corrupt(editAtHeight(bucketUndo, func(b *bolt.Bucket, h []byte) error {
			return b.Put(h, seal(h, chain.EncodeChanges(nil)))
		})), "undo data"},
		{"two faults, both listed", "regtest", corrupt(func(tx *bolt.Tx) error {
			if err := editFirstAccount(func(a *chain.Account) { a.Balance++ })(tx); err != nil {
				return err
			}
			return editAtHeight(bucketUndo, func(b *bolt.Bucket, h []byte) error {
				return b.Put(h, seal(h, chain.EncodeChanges(nil)))
			})(tx)
		}), "2 problems"},
		{"other network", "devnet", corrupt(nil), "genesis"},
		{"missing datadir", "regtest", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none") }, "no such file"},
		{"empty datadir", "regtest", func(t *testing.T) string { return t.TempDir() }, "no such file"},
		{"store without a tip", "regtest", func(t *testing.T) string {
			dir := t.TempDir()
			writeGenesis(t, dir, chain.Regtest, false)
			return dir
		}, "no main chain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.datadir(t)
			r := verify(t, tt.network, dir)
			if tt.want == "" {
				if h := verifiedHeight(t, tt.network, r); h < 3 {
					t.Errorf("verified height %d, want at least the 3 mined", h)
				}
				return
			}
			if r.code != exitFailure || r.stdout != "" || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, dir) {
				t.Errorf("exit %d, stdout %q, stderr %q: want %d, nothing, and a message naming %s and %q",
					r.code, r.stdout, r.stderr, exitFailure, dir, tt.want)
			}
		})
	}
}
