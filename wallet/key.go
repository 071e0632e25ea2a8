package wallet

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
)

// A key file holds an ed25519 seed as hex and a newline, mode 0600: the
// format of the node's own key (node.KeyFile), so either reads the other.

// maxKeyFile bounds what LoadKey reads: a key file is 65 bytes, and a path
// given by mistake (a log, a disk image) must not be read whole.
const maxKeyFile = 4 << 10

// NewKeyFile creates a key and saves it to path as WriteKeyFile does.
func NewKeyFile(path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	if err := WriteKeyFile(path, key); err != nil {
		return nil, err
	}
	return key, nil
}

// WriteKeyFile saves key to a new file at path, mode 0600, synced to disk. It
// refuses to replace an existing file: that file may be the only copy of
// another key.
func WriteKeyFile(path string, key ed25519.PrivateKey) error {
	err := writeKey(path, key)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("key file %s: %w (refusing to overwrite it)", path, fs.ErrExist)
	}
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	return nil
}

// LoadKey reads a key file. Like ssh, it refuses a file that group or others
// may read: such a key is exposed already, and using it would hide that.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path: the mode checked is the file read.
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s: not a regular file", path)
	}
	// Windows reports no Unix permission bits; its ACLs guard the file instead.
	if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("key file %s: mode %04o lets group or others read it; run chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile))
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("key file %s: want a %d-byte ed25519 seed as %d hex digits", path, ed25519.SeedSize, 2*ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// LoadOrCreateKey reads the key file at path, creating it with a new key when
// it does not exist: the node's own key.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	key, err := LoadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if _, key, err = ed25519.GenerateKey(nil); err != nil {
		return nil, err
	}
	// Write a synced temporary file and rename it into place: a crash
	// mid-write must not leave an empty key file that fails every later start.
	// A temporary file already there is what such a crash left: its key was
	// never returned, so nothing depends on it.
	tmp := path + ".tmp"
	os.Remove(tmp)
	if err := writeKey(tmp, key); err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("write key: %w", err)
	}
	return key, nil
}

// writeKey creates path, failing if it exists, and writes key's seed to it.
func writeKey(path string, key ed25519.PrivateKey) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(hex.EncodeToString(key.Seed()) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// The file is ours (O_EXCL): a half-written key must not stay behind
		// where the next attempt would refuse to replace it.
		os.Remove(path)
	}
	return err
}
