package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/apiclient"
)

// TestConfigFile runs a mining regtest node whose network, datadir, ports,
// mining and API token all come from a --config file: its API answers on the
// file's port, it mines, and the token it writes to its cookie is the file's.
// --print-config of the same file names those ports and hides the token, and
// a file with a mistyped key is refused, exit 2, before anything starts.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	n := &node{name: "config", datadir: filepath.Join(dir, "data"), p2pPort: freePort(t), httpPort: freePort(t)}
	const token = "token-from-the-config-file"
	path := filepath.Join(dir, "node.toml")
	text := fmt.Sprintf(`# a node, from its config file
network = "regtest"
datadir = %q
port = %s
p2p-addr = "127.0.0.1"
http = %s
http-addr = "127.0.0.1"
stratum-port = 0
mine = true
threads = 1
block-interval = "50ms"
ping-interval = "1s"
api-token = %q
`, n.datadir, n.p2pPort, n.httpPort, token)
	// The token is a secret: the node refuses the file until only its
	// owner may read it.
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runMiner(t, 10*time.Second, "--config", path)
	if r.code != exitUsage || !strings.Contains(r.stderr, "holds the secret api-token") {
		t.Fatalf("a world-readable file with a token: exit %d, stderr %q; want exit %d saying it holds the secret", r.code, r.stderr, exitUsage)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}

	r = runMiner(t, 10*time.Second, "--config", path, "--print-config")
	for _, want := range []string{"\nhttp = " + n.httpPort + "\n", "\nport = " + n.p2pPort + "\n", "\nmine = true\n", "\nnetwork = \"regtest\"\n"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("miner --config --print-config: exit %d, stdout:\n%s\nwant it to hold %q; stderr %q", r.code, r.stdout, want, r.stderr)
		}
	}
	if strings.Contains(r.stdout, token) {
		t.Errorf("--print-config printed the token:\n%s", r.stdout)
	}

	n.proc = startMiner(t, "--config", path)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("==== %s: miner %s\n%s", n.name, strings.Join(n.proc.args, " "), logTail(n.log()))
		}
	})
	st := n.waitHeight(t, 30*time.Second, 2)
	if st.Network != "regtest" || !st.Mining {
		t.Errorf("status on the file's port %s: network %q, mining %v; want regtest, mining", n.httpPort, st.Network, st.Mining)
	}
	cookie, err := os.ReadFile(filepath.Join(n.datadir, apiclient.CookieFile))
	if err != nil {
		t.Fatalf("the node's cookie in the file's datadir: %v", err)
	}
	if strings.TrimSpace(string(cookie)) != token {
		t.Errorf("cookie holds %q, want the file's token %q", cookie, token)
	}
	n.stop(t, 5*time.Second)

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("network = \"regtest\"\nhttp-port = 8001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runMiner(t, 10*time.Second, "--config", bad)
	if r.code != exitUsage || !strings.Contains(r.stderr, bad+":2: http-port: unknown key") {
		t.Errorf("a mistyped key: exit %d, stderr %q; want exit %d naming %s:2 and the key", r.code, r.stderr, exitUsage, bad)
	}
}
