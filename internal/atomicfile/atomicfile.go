// Package atomicfile replaces small files whole: a reader sees the old
// contents or the new, never half of them, and a crash leaves one or the
// other on disk.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, mode perm: it writes and syncs path.tmp,
// renames it over path and syncs the folder, so the rename too survives a
// crash. The temporary file has one name, so a write a crash cut short
// leaves one stale file, which the next write replaces; a failed write
// removes it (on a full disk it only takes room). Writers of one path take
// turns.
func Write(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm) // a stale file kept its old mode
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
