package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/hashforge/hashforge/chain"
)

// checkAll reads every page bbolt reaches and every record in every bucket,
// opening and decoding each as the store reads it, checks that the buckets
// agree (contents.check), and then runs bbolt's consistency check (pages
// reachable, none both in use and free, keys in order), adding what it
// finds to p. It runs on an open that follows an unclean shutdown and on
// every read-only open.
//
// Each bucket is walked in its own transaction under guard, so a fault in
// one bucket's pages stops that bucket's walk and the others are still
// listed. bbolt's check runs in a goroutine of its own, where guard cannot
// reach, so it runs only once the walk has read every page without a
// fault: it then reads nothing the walk has not.
func checkAll(db *bolt.DB, path string, p *problems) {
	var names [][]byte
	err := guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				names = append(names, bytes.Clone(name))
				return nil
			})
		})
	})
	if err != nil {
		p.add("the root bucket: %v", problemOf(err))
		return
	}
	// One transaction creates every bucket: a store that has some has all.
	for _, name := range buckets {
		if len(names) > 0 && !slices.ContainsFunc(names, func(n []byte) bool { return bytes.Equal(n, name) }) {
			p.add("bucket %s is missing", name)
		}
	}
	walked := true
	c := newContents()
	for _, name := range names {
		if !slices.ContainsFunc(buckets, func(b []byte) bool { return bytes.Equal(b, name) }) {
			p.add("unknown bucket %q", name)
			continue
		}
		err := guard(path, func() error {
			return db.View(func(tx *bolt.Tx) error {
				return tx.Bucket(name).ForEach(func(k, rec []byte) error {
					checkRecord(name, k, rec, c, p)
					return nil
				})
			})
		})
		if err != nil {
			walked = false
			p.add("bucket %s: %v", name, problemOf(err))
		}
	}
	if !walked {
		return
	}
	c.check(p)
	db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			// bbolt's check recovers a panic of its own as "panic: …": it
			// is the damage that caused it.
			p.add("bbolt consistency check: %s", strings.TrimPrefix(err.Error(), "panic: "))
		}
		return nil
	})
}

// problemOf is the problem a guarded walk met, without the path every
// problem in the list shares.
func problemOf(err error) any {
	if d, ok := errors.AsType[*DamageError](err); ok && len(d.Problems) == 1 {
		return d.Problems[0]
	}
	return err
}

// checkRecord opens and decodes one record of bucket and notes it in c.
func checkRecord(bucket, key, rec []byte, c *contents, p *problems) {
	if rec == nil {
		p.add("%s: a nested bucket where a record belongs", describe(bucket, key))
		return
	}
	v, err := openRecord(key, rec)
	if err == nil {
		err = decodeRecord(bucket, key, v)
	}
	if err != nil {
		p.add("%s: %v", describe(bucket, key), err)
		return
	}
	c.note(bucket, key, v)
}

// decodeRecord decodes a record's value as the store's readers do, and
// checks its key: a block or index entry is stored under its own hash.
func decodeRecord(bucket, key, v []byte) error {
	keyHash := func(h chain.Hash) error {
		if !bytes.Equal(h[:], key) {
			return fmt.Errorf("stored under %x, hashes to %s", key, h)
		}
		return nil
	}
	keySize := func(n int) error {
		if len(key) != n {
			return fmt.Errorf("key of %d bytes, want %d", len(key), n)
		}
		return nil
	}
	var err error
	switch string(bucket) {
	case string(bucketBlocks):
		var b *chain.Block
		if b, err = chain.DecodeBlock(v); err == nil {
			err = keyHash(b.Hash())
		}
	case string(bucketIndex):
		var e chain.IndexEntry
		if e, err = chain.DecodeIndexEntry(v); err == nil {
			err = keyHash(e.Header.Hash())
		}
	case string(bucketUndo):
		if err = keySize(chain.HashSize); err == nil {
			_, err = chain.DecodeChanges(v)
		}
	case string(bucketAccounts):
		if err = keySize(chain.AddressSize); err == nil {
			_, err = chain.DecodeAccount(v)
		}
	case string(bucketMain):
		if err = keySize(8); err == nil {
			_, err = decodeHash(v)
		}
	case string(bucketTxs):
		if err = keySize(chain.HashSize); err == nil {
			_, err = decodeHash(v)
		}
	case string(bucketMeta):
		if bytes.Equal(key, keyTip) {
			_, err = decodeHash(v)
		}
	case string(bucketPeers):
		if len(v) != 8 {
			err = fmt.Errorf("last-seen time of %d bytes", len(v))
		}
	}
	return err
}

// describe names a record in a problem: the block, height or account it
// belongs to.
func describe(bucket, key []byte) string {
	hash := func() string {
		if len(key) == chain.HashSize {
			return chain.Hash(key).String()
		}
		return fmt.Sprintf("%x", key)
	}
	switch string(bucket) {
	case string(bucketBlocks):
		return "block " + hash()
	case string(bucketIndex):
		return "index entry of block " + hash()
	case string(bucketUndo):
		return "undo data of block " + hash()
	case string(bucketTxs):
		return "transaction index entry of " + hash()
	case string(bucketMain):
		if len(key) == 8 {
			return fmt.Sprintf("main-chain height %d", binary.BigEndian.Uint64(key))
		}
	case string(bucketAccounts):
		if len(key) == chain.AddressSize {
			return "account " + chain.Address(key).String()
		}
	case string(bucketMeta):
		switch string(key) {
		case string(keyTip):
			return "stored tip"
		case string(keyFormat):
			return "store format"
		}
	case string(bucketPeers):
		return fmt.Sprintf("peer %q", key)
	}
	return fmt.Sprintf("%s record %x", bucket, key)
}
