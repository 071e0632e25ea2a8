package node_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashforge/hashforge/node"
)

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), node.KeyFile)
	key, err := node.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %v, want 0600: it holds the miner's spending key", perm)
	}
	again, err := node.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, again) {
		t.Fatal("second load returned a different key")
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary key file left behind: %v", err)
	}
}

func TestLoadKeyRejectsDamagedFile(t *testing.T) {
	for name, content := range map[string]string{
		"empty":     "",
		"not hex":   "zz\n",
		"too short": "00ff\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), node.KeyFile)
			os.WriteFile(path, []byte(content), 0o600)
			if _, err := node.LoadOrCreateKey(path); err == nil {
				t.Fatal("damaged key file accepted")
			}
			// A damaged key is reported, never silently replaced: coins mined
			// to it would be lost.
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Fatal("damaged key file was overwritten")
			}
		})
	}
}
