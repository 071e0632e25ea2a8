package wallet_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/wallet"
)

// seedLine is a key file's content: the format node.LoadOrCreateKey writes.
func seedLine(key ed25519.PrivateKey) string { return hex.EncodeToString(key.Seed()) + "\n" }

// checkKeyFile requires path to hold exactly key, readable by its owner alone.
func checkKeyFile(t *testing.T, path string, key ed25519.PrivateKey) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != seedLine(key) {
		t.Errorf("%s holds %q, want the seed as hex and a newline, %q", path, b, seedLine(key))
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", path, info.Mode().Perm())
	}
	got, err := wallet.LoadKey(path)
	if err != nil {
		t.Fatalf("LoadKey: %v", err)
	}
	if !got.Equal(key) {
		t.Errorf("LoadKey read another key than was written")
	}
}

func TestNewKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wallet.key")
	key, err := wallet.NewKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkKeyFile(t, path, key)

	other, err := wallet.NewKeyFile(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	if other.Equal(key) {
		t.Error("two new keys are equal")
	}
}

// TestWriteKeyFileRefusesOverwrite checks that no write replaces an existing
// file, which may be the only copy of a key.
func TestWriteKeyFileRefusesOverwrite(t *testing.T) {
	tests := []struct {
		name  string
		write func(path string) error
	}{
		{"NewKeyFile", func(path string) error { _, err := wallet.NewKeyFile(path); return err }},
		{"WriteKeyFile", func(path string) error { return wallet.WriteKeyFile(path, chain.FaucetKey()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wallet.key")
			const old = "not a key, but not ours to replace\n"
			if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
				t.Fatal(err)
			}
			err := tt.write(path)
			if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v: want fs.ErrExist, naming %s", err, path)
			}
			if b, _ := os.ReadFile(path); string(b) != old {
				t.Errorf("file now holds %q, want it untouched", b)
			}
		})
	}
}

func TestWriteKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faucet.key")
	if err := wallet.WriteKeyFile(path, chain.FaucetKey()); err != nil {
		t.Fatal(err)
	}
	checkKeyFile(t, path, chain.FaucetKey())
	if err := wallet.WriteKeyFile(filepath.Join(t.TempDir(), "no", "such", "dir"), chain.FaucetKey()); err == nil {
		t.Error("writing into a missing directory: no error")
	}
}

func TestLoadKey(t *testing.T) {
	key := chain.FaucetKey()
	seed := hex.EncodeToString(key.Seed())
	tests := []struct {
		name    string
		content string
		perm    os.FileMode
		want    string // substring of the error; "" for success
	}{
		{"written format", seed + "\n", 0o600, ""},
		{"no newline", seed, 0o600, ""},
		{"surrounding space", "  " + seed + "\r\n\n", 0o400, ""},
		{"upper-case hex", strings.ToUpper(seed) + "\n", 0o600, ""},
		{"empty", "", 0o600, "64 hex digits"},
		{"bad hex", strings.Repeat("zz", 32) + "\n", 0o600, "64 hex digits"},
		{"short seed", seed[:62] + "\n", 0o600, "64 hex digits"},
		{"long seed", seed + "00\n", 0o600, "64 hex digits"},
		{"whole private key", hex.EncodeToString(key) + "\n", 0o600, "64 hex digits"},
		{"group-readable", seed + "\n", 0o640, "chmod 600"},
		{"world-readable", seed + "\n", 0o604, "chmod 600"},
		{"group-writable", seed + "\n", 0o620, "chmod 600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && tt.perm != 0o600 {
				t.Skip("Windows keeps no Unix permission bits")
			}
			path := filepath.Join(t.TempDir(), "wallet.key")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			// Chmod, not WriteFile's mode, which the umask would narrow.
			if err := os.Chmod(path, tt.perm); err != nil {
				t.Fatal(err)
			}
			got, err := wallet.LoadKey(path)
			if tt.want == "" {
				if err != nil || !got.Equal(key) {
					t.Errorf("LoadKey: %v; want the faucet key", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v: want one naming %s and mentioning %q", err, path, tt.want)
			}
		})
	}
}

func TestLoadKeyNotAFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.key")
	if _, err := wallet.LoadKey(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v, want fs.ErrNotExist naming %s", err, missing)
	}
	if _, err := wallet.LoadKey(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: error %v, want one saying it is not a regular file", err)
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	// A temporary file left by a crash before the rename must not stop a start.
	if err := os.WriteFile(path+".tmp", []byte("half a se"), 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := wallet.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	checkKeyFile(t, path, key)
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
	again, err := wallet.LoadOrCreateKey(path)
	if err != nil || !again.Equal(key) {
		t.Errorf("second LoadOrCreateKey: %v; want the key the first created", err)
	}

	// A damaged key file is an error, never silently replaced by a new key.
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("nothex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := wallet.LoadOrCreateKey(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("damaged key file: error %v, want one naming %s", err, bad)
	}
	if b, _ := os.ReadFile(bad); string(b) != "nothex\n" {
		t.Errorf("damaged key file now holds %q, want it untouched", b)
	}
}
