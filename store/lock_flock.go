//go:build !windows && !plan9 && !solaris && !aix && !android

package store

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// sharedLock takes, on f, the lock bbolt's readers take (flock, shared),
// waiting up to timeout as bbolt does: a node that has the file open for
// writing holds it exclusively. It lasts until f is closed. It keeps the
// checks that read the file before bbolt opens it, and Reindex, from
// reading a file a node is writing, which would look like damage.
func sharedLock(f *os.File, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if time.Now().After(deadline) {
			return ErrLocked
		}
		time.Sleep(50 * time.Millisecond)
	}
}
