package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/apiclient"
)

var update = flag.Bool("update", false, "rewrite testdata/print-config.golden from what --print-config prints")

// runMain runs the command as main does, in a fresh working directory, and
// returns its exit code and output.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Chdir(t.TempDir())
	t.Setenv(apiclient.TokenEnv, "") // a token in the tester's shell is no default here
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeConfig writes text to a config file with mode perm and returns its path.
func writeConfig(t *testing.T, text string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.toml")
	if err := os.WriteFile(path, []byte(text), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigPrintDefaults compares --print-config of the defaults with the
// golden file; go test ./cmd/miner -run TestConfigPrintDefaults -update
// rewrites it after a flag is added or changed.
func TestConfigPrintDefaults(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("testdata", "print-config.golden"))
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain(t, "--print-config")
	if code != exitOK || stderr != "" {
		t.Fatalf("miner --print-config: exit %d, stderr %q", code, stderr)
	}
	if *update {
		if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(want) {
		t.Errorf("miner --print-config:\n%s\nwant %s (go test ./cmd/miner -run TestConfigPrintDefaults -update rewrites it):\n%s", stdout, golden, want)
	}
}

// TestConfigRoundTrip prints a configuration, reads the text back with
// --config and prints again: the same text, so the file gives the node what
// the flags gave it. A secret does not come back (it is never printed):
// TestConfigFile checks that.
func TestConfigRoundTrip(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--network", "regtest"},
		{"-m", "--network", "regtest", "-k", "127.0.0.1:1", "-k", "h:2", "-p", "0", "-i", "8123", "--datadir", "/tmp/x y",
			"--block-interval", "20ms", "--gpu-temp-limit", "80.5", "--devices", "cpu0", "--http-host", "a.example",
			"--log-level", "debug", "--mempool-expiry", "1h"},
		{"--threads", "1", "--mine=false", "--cpu-impl", "generic"},
	} {
		code, first, stderr := runMain(t, append(args, "--print-config")...)
		if code != exitOK {
			t.Fatalf("miner %q --print-config: exit %d: %s", args, code, stderr)
		}
		path := writeConfig(t, first, 0o644)
		code, second, stderr := runMain(t, "--config", path, "--print-config")
		if code != exitOK {
			t.Fatalf("miner --config (printed from %q) --print-config: exit %d: %s\nfile:\n%s", args, code, stderr, first)
		}
		if first != second {
			t.Errorf("%q: printed, read back and printed:\n%s\nwant:\n%s", args, second, first)
		}
	}
}

func TestConfigFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		perm os.FileMode
		args []string
		code int
		want []string // in stdout when the exit is 0, else in stderr
	}{
		{name: "keys", file: "network = \"regtest\"\nmine = true\nhttp = 8123\npeer = [\"a:1\", \"b:2\"]\nblock-interval = \"20ms\"\n",
			want: []string{"\nnetwork = \"regtest\"\n", "\nmine = true\n", "\nhttp = 8123\n", "\npeer = [\"a:1\", \"b:2\"]\n",
				"\nblock-interval = \"20ms\"\n", "\n# port = 18999\n", "\n# datadir = \"data/regtest\"\n"}},
		{name: "flag wins", file: "http = 8123\nmine = true\n", args: []string{"-i", "8124", "--mine=false"},
			want: []string{"\nhttp = 8124\n", "\nmine = false\n"}},
		{name: "file checked as flags", file: "max-peers = -1\n", code: exitUsage, want: []string{"--max-peers must not be negative"}},
		{name: "unknown key", file: "# a node\nhttp-port = 8001\n", code: exitUsage,
			want: []string{"node.toml:2: http-port: unknown key (did you mean http or http-host?)"}},
		{name: "wrong type", file: "mine = \"yes\"\n", code: exitUsage, want: []string{"node.toml:1: mine: is a string, want a boolean"}},
		{name: "config in file", file: "config = \"b.toml\"\n", code: exitUsage, want: []string{"node.toml:1: config: --config is given on the command line only"}},
		{name: "print-config in file", file: "print-config = true\n", code: exitUsage, want: []string{"print-config: --print-config is given on the command line only"}},
		{name: "secret readable", file: "api-token = \"s3cret\"\n", perm: 0o644, code: exitUsage, want: []string{"holds the secret api-token", "chmod 600"}},
		{name: "secret private", file: "api-token = \"s3cret\"\n", perm: 0o600, want: []string{"\n# api-token = \"...\"  # set; secrets are not printed\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			perm := tc.perm
			if perm == 0 {
				perm = 0o644
			}
			path := writeConfig(t, tc.file, perm)
			code, stdout, stderr := runMain(t, append([]string{"--config", path, "--print-config"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			got := stdout
			if tc.code != exitOK {
				got = stderr
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("output:\n%s\nwant it to hold %q", got, w)
				}
			}
			if strings.Contains(stdout, "s3cret") {
				t.Errorf("--print-config printed the secret:\n%s", stdout)
			}
		})
	}
}

func TestConfigMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	code, _, stderr := runMain(t, "--config", path)
	if code != exitUsage || !strings.Contains(stderr, "config file "+path+" does not exist") {
		t.Fatalf("miner --config %s: exit %d, stderr %q", path, code, stderr)
	}
}
