// Package store keeps a node's chain on disk in a bbolt database: blocks, the
// block index, main-chain heights, account state and undo data. Each change of
// the main chain, a block or a sync's run of blocks, is one bbolt
// transaction, so a crash at any moment leaves the store at a block
// boundary. Every value is a checksummed record (record.go), a damaged file
// is refused when it is opened (open.go, check.go) and every read turns
// damage into a *DamageError rather than a crash (damage.go); Reindex
// rebuilds a damaged store from the blocks that survive it.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hashforge/hashforge/chain"
)

var (
	bucketBlocks   = []byte("blocks")   // hash → encoded block
	bucketIndex    = []byte("index")    // hash → chain.IndexEntry
	bucketMain     = []byte("main")     // height (8, big-endian) → hash
	bucketAccounts = []byte("accounts") // address → chain.Account
	bucketUndo     = []byte("undo")     // hash → account changes of the block
	bucketMeta     = []byte("meta")     // keyTip → hash, keyFormat → format version
	bucketPeers    = []byte("peers")    // host:port → last seen (Unix seconds, 8 bytes)
	bucketTxs      = []byte("txs")      // txid → hash of the main-chain block holding it

	buckets = [][]byte{bucketBlocks, bucketIndex, bucketMain, bucketAccounts, bucketUndo, bucketMeta, bucketPeers, bucketTxs}

	keyTip = []byte("tip")
)

// ErrNotFound reports a block or record the store does not hold.
var ErrNotFound = errors.New("not found")

// ErrLocked reports a datadir held by another process.
var ErrLocked = errors.New("datadir is in use by another process")

// Store is the on-disk chain of one network.
type Store struct {
	db       *bolt.DB
	path     string
	readOnly bool
	damaged  atomic.Bool // a read met damage: Close leaves no clean-shutdown marker
}

// FileName is the database file inside a datadir.
const FileName = "chain.db"

// Close closes the database. After a clean close of a store opened for
// writing it leaves the clean-shutdown marker, so the next Open skips the
// full check.
func (s *Store) Close() error {
	err := s.db.Close()
	if err == nil && !s.readOnly && !s.damaged.Load() {
		err = writeMarker(s.path)
	}
	return err
}

// view and update run a bbolt transaction under guard.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	return s.guarded(func() error { return s.db.View(fn) })
}

func (s *Store) update(fn func(*bolt.Tx) error) error {
	return s.guarded(func() error { return s.db.Update(fn) })
}

func (s *Store) guarded(fn func() error) error {
	err := guard(s.path, fn)
	if errors.Is(err, ErrDamaged) {
		s.damaged.Store(true)
	}
	return err
}

// open opens the record rec read from key in bucket; damage is a
// *DamageError naming the record.
func (s *Store) open(bucket, key, rec []byte) ([]byte, error) {
	v, err := openRecord(key, rec)
	if err != nil {
		return nil, &DamageError{Path: s.path, Problems: []string{describe(bucket, key) + ": " + err.Error()}}
	}
	return v, nil
}

// put stores value under key as a sealed record.
func put(b *bolt.Bucket, key, value []byte) error { return b.Put(key, sealRecord(key, value)) }

// get reads the record at key in bucket; a missing bucket (a read-only
// store that was never written) reads as empty.
func get(tx *bolt.Tx, bucket, key []byte) []byte {
	b := tx.Bucket(bucket)
	if b == nil {
		return nil
	}
	return b.Get(key)
}

func heightKey(h uint64) []byte { return binary.BigEndian.AppendUint64(nil, h) }

// each decodes every value of bucket and calls fn with its key.
func each[T any](s *Store, bucket []byte, decode func([]byte) (T, error), fn func(k []byte, v T) error) error {
	return s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, rec []byte) error {
			raw, err := s.open(bucket, k, rec)
			if err != nil {
				return err
			}
			v, err := decode(raw)
			if err != nil {
				return fmt.Errorf("%s %x: %w", bucket, k, err)
			}
			return fn(k, v)
		})
	})
}

// LoadIndex calls fn for every stored block's index entry.
func (s *Store) LoadIndex(fn func(chain.IndexEntry) error) error {
	return each(s, bucketIndex, chain.DecodeIndexEntry, func(_ []byte, e chain.IndexEntry) error { return fn(e) })
}

// Tip returns the main chain's tip, or the zero hash for an empty store.
func (s *Store) Tip() (chain.Hash, error) {
	h, _, err := read(s, bucketMeta, keyTip, decodeHash)
	return h, err
}

// PutBlock stores a block and its index entry.
func (s *Store) PutBlock(e chain.IndexEntry, raw []byte) error {
	return s.update(func(tx *bolt.Tx) error { return putBlock(tx, e, raw) })
}

func putBlock(tx *bolt.Tx, e chain.IndexEntry, raw []byte) error {
	hash := e.Header.Hash()
	if err := put(tx.Bucket(bucketBlocks), hash[:], raw); err != nil {
		return err
	}
	return put(tx.Bucket(bucketIndex), hash[:], e.Bytes())
}

// SetStatus records a block's validation status.
func (s *Store) SetStatus(h chain.Hash, st chain.Status) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIndex)
		rec := b.Get(h[:])
		if rec == nil {
			return fmt.Errorf("index entry %s: %w", h, ErrNotFound)
		}
		v, err := s.open(bucketIndex, h[:], rec)
		if err != nil {
			return err
		}
		e, err := chain.DecodeIndexEntry(v)
		if err != nil {
			return err
		}
		e.Status = st
		return put(b, h[:], e.Bytes())
	})
}

// read decodes the value at key in bucket; found is false when it is absent.
// The decoder runs inside the transaction because bbolt's bytes are only
// valid there.
func read[T any](s *Store, bucket, key []byte, decode func([]byte) (T, error)) (v T, found bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		rec := get(tx, bucket, key)
		if rec == nil {
			return nil
		}
		found = true
		b, err := s.open(bucket, key, rec)
		if err != nil {
			return err
		}
		v, err = decode(b)
		return err
	})
	return v, found, err
}

// Block returns a stored block.
func (s *Store) Block(h chain.Hash) (*chain.Block, error) {
	b, found, err := read(s, bucketBlocks, h[:], chain.DecodeBlock)
	if err == nil && !found {
		err = fmt.Errorf("block %s: %w", h, ErrNotFound)
	}
	return b, err
}

// MainHash returns the main-chain block at height, if there is one.
func (s *Store) MainHash(height uint64) (chain.Hash, bool, error) {
	return read(s, bucketMain, heightKey(height), decodeHash)
}

// Account returns an account's state at the tip; an account never touched is
// the zero Account.
func (s *Store) Account(a chain.Address) (chain.Account, error) {
	acc, _, err := read(s, bucketAccounts, a[:], chain.DecodeAccount)
	return acc, err
}

// Undo returns the account changes a main-chain block made.
func (s *Store) Undo(h chain.Hash) ([]chain.AccountChange, error) {
	cs, found, err := read(s, bucketUndo, h[:], chain.DecodeChanges)
	if err == nil && !found {
		err = fmt.Errorf("undo data of %s: %w", h, ErrNotFound)
	}
	return cs, err
}

// TxBlock returns the main-chain block that holds a transaction, if any.
func (s *Store) TxBlock(txid chain.Hash) (chain.Hash, bool, error) {
	return read(s, bucketTxs, txid[:], decodeHash)
}

func decodeHash(b []byte) (chain.Hash, error) {
	var h chain.Hash
	if len(b) != chain.HashSize {
		return h, fmt.Errorf("stored hash of %d bytes", len(b))
	}
	copy(h[:], b)
	return h, nil
}

// ForEachAccount calls fn for every account with state.
func (s *Store) ForEachAccount(fn func(chain.Address, chain.Account) error) error {
	return each(s, bucketAccounts, chain.DecodeAccount, func(k []byte, acc chain.Account) error {
		return fn(chain.Address(k), acc)
	})
}

// Connect makes u.Hash the main chain's block at u.Height, in one transaction.
func (s *Store) Connect(u chain.Update) error {
	return s.update(func(tx *bolt.Tx) error {
		if err := putAccounts(tx, u.Changes, newAccount); err != nil {
			return err
		}
		if err := connect(tx, u); err != nil {
			return err
		}
		return put(tx.Bucket(bucketMeta), keyTip, u.Tip[:])
	})
}

// ConnectBlocks stores and connects a run of blocks, each on the one before
// it, in one transaction: a sync pays for one commit and one fsync per run,
// and a crash keeps the whole run or none of it. Accounts and the tip are
// written as the run leaves them: a miner every block of the run pays is
// written once, not once a block. A run that checkRun refuses is rolled
// back whole.
func (s *Store) ConnectBlocks(bs []chain.BlockUpdate) error {
	if len(bs) == 0 {
		return nil
	}
	return s.update(func(tx *bolt.Tx) error {
		var accounts []chain.AccountChange
		at := make(map[chain.Address]int)
		var prev *chain.Hash
		for _, b := range bs {
			hash := b.Entry.Header.Hash()
			stored := prev == nil && get(tx, bucketIndex, b.Entry.Header.PrevBlock[:]) != nil
			if err := checkRun(b.Entry.Header, hash, prev, stored); err != nil {
				return err
			}
			prev = &hash
			if err := putBlock(tx, b.Entry, b.Raw); err != nil {
				return err
			}
			if err := connect(tx, b.Update); err != nil {
				return err
			}
			for _, c := range b.Update.Changes {
				if i, ok := at[c.Address]; ok {
					accounts[i].New = c.New
				} else {
					at[c.Address] = len(accounts)
					accounts = append(accounts, c)
				}
			}
		}
		if err := putAccounts(tx, accounts, newAccount); err != nil {
			return err
		}
		tip := bs[len(bs)-1].Update.Tip
		return put(tx.Bucket(bucketMeta), keyTip, tip[:])
	})
}

// ErrBadRun reports a run of blocks for ConnectBlocks in which a block is not
// the child of the block before it.
var ErrBadRun = errors.New("a block of the run is not the child of the block before it")

// checkRun is what both stores' ConnectBlocks ask of each block of a run,
// the block h hashing to hash: its parent is prev, the block before it in
// the run, or, for the run's first block (prev nil), a stored block
// (parentStored). A run joins the tree of stored blocks, as the chain's
// runs, on its tip, always do.
func checkRun(h chain.Header, hash chain.Hash, prev *chain.Hash, parentStored bool) error {
	switch {
	case prev == nil && !parentStored:
		return fmt.Errorf("connect block %s: parent %s: %w", hash, h.PrevBlock, ErrNotFound)
	case prev != nil && h.PrevBlock != *prev:
		return fmt.Errorf("connect block %s on %s, not on %s: %w", hash, h.PrevBlock, *prev, ErrBadRun)
	}
	return nil
}

// connect writes what a block adds to the main chain beside accounts and
// the tip: its undo data, its transactions and its height.
func connect(tx *bolt.Tx, u chain.Update) error {
	if err := put(tx.Bucket(bucketUndo), u.Hash[:], chain.EncodeChanges(u.Changes)); err != nil {
		return err
	}
	txs := tx.Bucket(bucketTxs)
	for _, id := range u.Txs {
		if err := put(txs, id[:], u.Hash[:]); err != nil {
			return err
		}
	}
	return put(tx.Bucket(bucketMain), heightKey(u.Height), u.Hash[:])
}

// Disconnect removes the main chain's tip block u.Hash, in one transaction.
func (s *Store) Disconnect(u chain.Update) error {
	return s.update(func(tx *bolt.Tx) error {
		if err := putAccounts(tx, u.Changes, oldAccount); err != nil {
			return err
		}
		if err := tx.Bucket(bucketUndo).Delete(u.Hash[:]); err != nil {
			return err
		}
		txs := tx.Bucket(bucketTxs)
		for _, id := range u.Txs {
			if err := txs.Delete(id[:]); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMain).Delete(heightKey(u.Height)); err != nil {
			return err
		}
		return put(tx.Bucket(bucketMeta), keyTip, u.Tip[:])
	})
}

// maxPeers bounds the peer book; the least recently seen make room.
const maxPeers = 1000

// PutPeer records that a peer was reachable at addr.
func (s *Store) PutPeer(addr string, seen time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPeers)
		if b.Get([]byte(addr)) == nil && b.Stats().KeyN >= maxPeers {
			var oldest []byte
			oldestSeen := uint64(1<<64 - 1)
			err := b.ForEach(func(k, rec []byte) error {
				v, err := s.open(bucketPeers, k, rec)
				if err != nil {
					return err
				}
				if t := binary.BigEndian.Uint64(v); t < oldestSeen {
					oldest, oldestSeen = append([]byte(nil), k...), t
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := b.Delete(oldest); err != nil {
				return err
			}
		}
		return put(b, []byte(addr), binary.BigEndian.AppendUint64(nil, uint64(seen.Unix())))
	})
}

// Peers lists the peer book's addresses.
func (s *Store) Peers() ([]string, error) {
	var addrs []string
	err := each(s, bucketPeers, func(b []byte) ([]byte, error) { return b, nil }, func(k, _ []byte) error {
		addrs = append(addrs, string(k))
		return nil
	})
	return addrs, err
}

// newAccount and oldAccount pick a side of a change for putAccounts.
func newAccount(c chain.AccountChange) chain.Account { return c.New }
func oldAccount(c chain.AccountChange) chain.Account { return c.Old }

// putAccounts writes the side of each change that pick selects; an untouched
// (zero) account is deleted rather than stored.
func putAccounts(tx *bolt.Tx, cs []chain.AccountChange, pick func(chain.AccountChange) chain.Account) error {
	b := tx.Bucket(bucketAccounts)
	for _, c := range cs {
		acc := pick(c)
		var err error
		if acc == (chain.Account{}) {
			err = b.Delete(c.Address[:])
		} else {
			err = put(b, c.Address[:], acc.Bytes())
		}
		if err != nil {
			return err
		}
	}
	return nil
}
