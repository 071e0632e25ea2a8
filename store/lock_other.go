//go:build windows || plan9 || solaris || aix || android

package store

import (
	"os"
	"time"
)

// sharedLock does nothing where bbolt locks with other calls than flock:
// there a file a node writes can be read as damaged, and bbolt's own lock
// is what keeps a second node out.
func sharedLock(*os.File, time.Duration) error { return nil }
