package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// formatVersion is the store's record format: 2 seals every value with a
// checksum. Format 1 (no checksums, no format key) is refused with ErrFormat;
// `miner reindex` rebuilds such a store from its blocks.
const formatVersion = 2

var keyFormat = []byte("format")

// Open opens or creates the store in dir. readOnly opens an existing store
// without writing, as `miner verify` does.
//
// A damaged store is refused with a *DamageError listing what is wrong.
// Before bbolt maps the file, its size and both meta pages are checked
// (checkFile); then, when the last close was not clean or the file changed
// since (see markerPath), and on every read-only open, every page and every
// record is read and bbolt's consistency check runs (checkAll).
func Open(dir string, readOnly bool) (*Store, error) {
	if !readOnly {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create datadir: %w", err)
		}
	}
	return open(filepath.Join(dir, FileName), options{readOnly: readOnly})
}

// lockTimeout is how long Open waits for a datadir another process holds,
// such as a node still shutting down.
const lockTimeout = time.Second

type options struct {
	readOnly bool
	// noSync skips bbolt's fsync per transaction: for a store that is
	// thrown away if the process dies, such as the one Reindex builds.
	noSync bool
}

func open(path string, o options) (*Store, error) {
	fi, err := os.Stat(path)
	exists := err == nil
	if !exists && (o.readOnly || !errors.Is(err, fs.ErrNotExist)) {
		return nil, fmt.Errorf("open store: %w", err)
	}
	var p problems
	full := o.readOnly // verify checks everything, every time
	if exists {
		if !o.readOnly {
			clean, err := readMarker(path, fi)
			if err != nil {
				return nil, fmt.Errorf("clean-shutdown marker: %w", err)
			}
			full = !clean
		}
		if err := precheck(path, &p); err != nil {
			return nil, err
		}
	}
	var db *bolt.DB
	err = guard(path, func() (err error) {
		// The freelist is loaded now, under guard, not later by the
		// consistency check in a goroutine of bbolt's own.
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, ReadOnly: o.readOnly, NoSync: o.noSync, PreLoadFreelist: true})
		return err
	})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrChecksum), errors.Is(err, bolt.ErrVersionMismatch):
		p.add("bbolt cannot open it: %v", err)
		return nil, p.err(path)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !o.readOnly {
		if err := dropMarker(path); err != nil {
			db.Close()
			return nil, fmt.Errorf("clean-shutdown marker: %w", err)
		}
	}
	s := &Store{db: db, path: path, readOnly: o.readOnly}
	if err := s.prepare(full, &p); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// precheck runs checkFile on the file at path under the lock bbolt's
// readers take, and lets go of it: bbolt, opening the file for writing,
// would wait for it. Another process can take the file in between; bbolt's
// own lock then stops this one.
func precheck(path string, p *problems) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer f.Close()
	if err := sharedLock(f, lockTimeout); err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	fi, err := f.Stat() // the size now that no node writes
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	if !checkFile(f, fi.Size(), p) {
		return p.err(path)
	}
	return nil
}

// prepare checks the format, then everything when full is set, and, opened
// for writing, creates what a new store lacks; nothing is written to a store
// with problems.
func (s *Store) prepare(full bool, p *problems) error {
	if err := s.checkFormat(); err != nil {
		if d, ok := errors.AsType[*DamageError](err); ok {
			for _, problem := range d.Problems {
				p.add("%s", problem)
			}
			return p.err(s.path)
		}
		return err
	}
	if full {
		checkAll(s.db, s.path, p)
	}
	if err := p.err(s.path); err != nil {
		return err
	}
	if s.readOnly {
		return nil
	}
	return s.update(func(tx *bolt.Tx) error {
		for _, name := range buckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create buckets: %w", err)
			}
		}
		if get(tx, bucketMeta, keyFormat) != nil {
			return nil
		}
		return put(tx.Bucket(bucketMeta), keyFormat, []byte{formatVersion})
	})
}

// checkFormat refuses a store in a format this code does not read: one
// with blocks and no format key predates the checksums.
func (s *Store) checkFormat() error {
	return s.view(func(tx *bolt.Tx) error {
		rec := get(tx, bucketMeta, keyFormat)
		if rec == nil {
			if b := tx.Bucket(bucketBlocks); b != nil {
				if k, _ := b.Cursor().First(); k != nil {
					return fmt.Errorf("%s holds store format 1, from before checksummed records: %w", s.path, ErrFormat)
				}
			}
			return nil
		}
		v, err := s.open(bucketMeta, keyFormat, rec)
		if err != nil {
			return err
		}
		if len(v) != 1 || v[0] != formatVersion {
			return fmt.Errorf("%s holds store format %x, this miner reads %d: %w", s.path, v, formatVersion, ErrFormat)
		}
		return nil
	})
}
