package miner

import "time"

// SetRetryBackoff shortens the waits between offers of a block the chain
// could not store, so a test sees several in well under a second; the
// returned func restores them.
func SetRetryBackoff(first, most time.Duration) (restore func()) {
	oldFirst, oldMost := retryFirst, retryMost
	retryFirst, retryMost = first, most
	return func() { retryFirst, retryMost = oldFirst, oldMost }
}
