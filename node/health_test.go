package node

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestDirProbe: a datadir that takes writes passes, one that does not
// fails with the reason, the probe leaves nothing behind, and an answer
// stands for probeEvery.
func TestDirProbe(t *testing.T) {
	tests := []struct {
		name  string
		dir   func(t *testing.T) string
		fails bool
		is    error // what the failure wraps; nil: anything
	}{
		{"writable", func(t *testing.T) string { return t.TempDir() }, false, nil},
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "gone") }, true, fs.ErrNotExist},
		{"a file", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &dirProbe{dir: tt.dir(t)}
			if err := p.Writable(); (err != nil) != tt.fails || tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("Writable: %v, want failure %t (%v)", err, tt.fails, tt.is)
			}
			if entries, _ := os.ReadDir(p.dir); len(entries) > 0 {
				t.Errorf("the probe left %s behind", entries[0].Name())
			}
		})
	}

	dir := t.TempDir()
	p := &dirProbe{dir: dir}
	if err := p.Writable(); err != nil {
		t.Fatal(err)
	}
	os.Remove(dir)
	if err := p.Writable(); err != nil {
		t.Errorf("Writable within probeEvery of a passing probe: %v, want its answer again", err)
	}
	p.at = p.at.Add(-probeEvery)
	if err := p.Writable(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Writable probeEvery later, the datadir gone: %v, want it not to exist", err)
	}
}
