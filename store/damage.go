package store

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
)

// ErrDamaged is matched (errors.Is) by every *DamageError.
var ErrDamaged = errors.New("store is damaged")

// ErrFormat reports a store file written in a format this miner does not
// read: one from before checksummed records, or from a newer miner.
var ErrFormat = errors.New("store format not readable by this miner")

// DamageError reports a store file whose bytes are not what the store
// wrote: a record whose checksum fails, a page bbolt cannot read, a file cut
// short, a meta page that is not valid.
type DamageError struct {
	Path     string   // the database file
	Problems []string // each names the page, record or block at fault
}

func (e *DamageError) Error() string {
	if len(e.Problems) == 1 {
		return e.Path + " is damaged: " + e.Problems[0]
	}
	return fmt.Sprintf("%s is damaged, %d problems:\n%s", e.Path, len(e.Problems), strings.Join(e.Problems, "\n"))
}

func (e *DamageError) Unwrap() error { return ErrDamaged }

// maxProblems bounds a problem list: a badly damaged file yields one
// problem per page, and the first hundred tell what happened.
const maxProblems = 100

// problems collects what a check finds, up to maxProblems.
type problems struct {
	list []string
	more int
}

func (p *problems) add(format string, args ...any) {
	if len(p.list) == maxProblems {
		p.more++
		return
	}
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

// err returns the problems found in the file at path as a *DamageError,
// or nil when there are none.
func (p *problems) err(path string) error {
	if len(p.list) == 0 {
		return nil
	}
	list := p.list
	if p.more > 0 {
		list = append(list, fmt.Sprintf("… and %d more", p.more))
	}
	return &DamageError{Path: path, Problems: list}
}

// guard runs fn, which reads the database at path through bbolt, and turns
// a panic or a memory fault in it into a *DamageError.
//
// bbolt reads the file through a memory map and trusts the page numbers
// and offsets it finds there: a page past the end of a file cut short
// raises SIGBUS, an offset into unmapped memory SIGSEGV, and a page of the
// wrong kind panics ("page N: has unexpected type/flags"). The Go runtime
// ends the process on such a fault unless the goroutine that faults has
// asked for a panic instead with debug.SetPanicOnFault; that panic, like
// bbolt's own, is recovered here. The setting is per goroutine, so it is
// made here, around each transaction, in the goroutine that runs it, and
// put back afterwards. bbolt rolls a transaction back when a panic leaves
// it, so the database stays usable for records elsewhere in the file.
func guard(path string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		problem := fmt.Sprintf("reading the file failed: %v", r)
		if fault, ok := r.(interface{ Addr() uintptr }); ok {
			problem = fmt.Sprintf("reading the file failed: a memory fault at %#x: a page lies past the end of the file, or a page's offsets point outside it", fault.Addr())
		}
		err = &DamageError{Path: path, Problems: []string{problem}}
	}()
	return fn()
}

// Advise adds to an error of Open what the user can do about it: a damaged
// or unreadable store is rebuilt by `miner reindex` from the blocks that
// survive, or restored from a backup. Other errors pass unchanged.
func Advise(err error, network, dir string) error {
	if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrFormat) {
		return err
	}
	return fmt.Errorf("%w\nrun `miner reindex --network %s --datadir %s` to rebuild %s from the blocks that can still be read "+
		"(the old file is kept beside it), or restore %s from a backup", err, network, dir, FileName, FileName)
}
