//go:build unix

package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
)

var (
	addressRE = regexp.MustCompile(`^[0-9a-f]{40}\n$`)
	txidRE    = regexp.MustCompile(`^\{"txid":"([0-9a-f]{64})"\}\n$`)
)

// runWalletOK runs a wallet command that must succeed and returns its stdout.
func runWalletOK(t *testing.T, args ...string) string {
	t.Helper()
	r := runMiner(t, 20*time.Second, append([]string{"wallet"}, args...)...)
	if r.code != 0 {
		t.Fatalf("miner wallet %s: exit %d, want 0\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// TestWalletKeys writes keys with new and faucet and reads them back with
// address: the addresses agree, the files are private, nothing is overwritten.
func TestWalletKeys(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		cmd  string
		want string // the address printed; "" for any
	}{
		{"new", ""},
		{"faucet", chain.FaucetAddress().String()},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			path := filepath.Join(dir, tt.cmd+".key")
			r := runMiner(t, 10*time.Second, "wallet", tt.cmd, "--out", path)
			if r.code != 0 || !addressRE.MatchString(r.stdout) {
				t.Fatalf("exit %d, stdout %q: want 0 and an address\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			if tt.want != "" && r.stdout != tt.want+"\n" {
				t.Errorf("address %q, want %s", r.stdout, tt.want)
			}
			if tt.cmd == "faucet" && !strings.Contains(r.stderr, "public") {
				t.Errorf("stderr %q: want a warning that the faucet key is public", r.stderr)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %04o, want 0600", info.Mode().Perm())
			}
			if got := runWalletOK(t, "address", "--key", path); got != r.stdout {
				t.Errorf("address --key prints %q, want %q as %s printed", got, r.stdout, tt.cmd)
			}

			key, _ := os.ReadFile(path)
			again := runMiner(t, 10*time.Second, "wallet", tt.cmd, "--out", path)
			if again.code != exitFailure || again.stdout != "" || !strings.Contains(again.stderr, path) || !strings.Contains(again.stderr, "overwrite") {
				t.Errorf("%s over an existing file: exit %d, stdout %q, stderr %q: want %d, nothing on stdout, a refusal naming the file",
					tt.cmd, again.code, again.stdout, again.stderr, exitFailure)
			}
			if now, _ := os.ReadFile(path); string(now) != string(key) {
				t.Errorf("key file changed from %q to %q", key, now)
			}
		})
	}
}

// TestWalletBadInput checks that every malformed wallet command exits 2
// before reading a key or asking a node, naming what was wrong.
func TestWalletBadInput(t *testing.T) {
	key := filepath.Join(t.TempDir(), "does-not-matter.key")
	addr := chain.FaucetAddress().String()
	send := func(args ...string) []string {
		return append([]string{"wallet", "send", "--key", key, "--to", addr, "--amount", "1", "--fee", "0.001"}, args...)
	}
	tests := []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"no wallet command", []string{"wallet"}, []string{"missing command", "new", "address", "balance", "send", "faucet"}},
		{"unknown wallet command", []string{"wallet", "frobnicate"}, []string{`unknown command "frobnicate"`, "send"}},
		{"new without --out", []string{"wallet", "new"}, []string{"--out is required"}},
		{"new with empty --out", []string{"wallet", "new", "--out", ""}, []string{"--out is required"}},
		{"new with argument", []string{"wallet", "new", "--out", key, "extra"}, []string{`"extra"`}},
		{"faucet without --out", []string{"wallet", "faucet"}, []string{"--out is required"}},
		{"address without --key", []string{"wallet", "address"}, []string{"--key is required"}},
		{"address unknown flag", []string{"wallet", "address", "--frobnicate"}, []string{"unknown flag: --frobnicate"}},
		{"balance without address", []string{"wallet", "balance"}, []string{"ADDR"}},
		{"balance bad address", []string{"wallet", "balance", "nothex"}, []string{`"nothex"`, "40 hex"}},
		{"balance short address", []string{"wallet", "balance", addr[:38]}, []string{"40 hex"}},
		{"balance two addresses", []string{"wallet", "balance", addr, addr}, []string{"unexpected argument"}},
		{"balance bad node", []string{"wallet", "balance", addr, "--node", "127.0.0.1:8001"}, []string{"--node", "http://"}},
		{"send without --key", []string{"wallet", "send", "--to", addr, "--amount", "1", "--fee", "0"}, []string{"--key is required"}},
		{"send without --to", []string{"wallet", "send", "--key", key, "--amount", "1", "--fee", "0"}, []string{"--to is required"}},
		{"send without --amount", []string{"wallet", "send", "--key", key, "--to", addr, "--fee", "0"}, []string{"--amount is required"}},
		{"send without --fee", []string{"wallet", "send", "--key", key, "--to", addr, "--amount", "1"}, []string{"--fee is required"}},
		{"send bad --to", send("--to", "xyz"), []string{"--to", `"xyz"`}},
		{"send nine decimals", send("--amount", "0.123456789"), []string{"--amount", "8 decimal places"}},
		{"send negative amount", send("--amount", "-1"), []string{"--amount", `"-1"`}},
		{"send exponent", send("--amount", "1e3"), []string{"--amount", `"1e3"`}},
		{"send beyond the money supply", send("--amount", "21000000.00000001"), []string{"--amount", "money supply"}},
		{"send bad fee", send("--fee", "0.5.5"), []string{"--fee", `"0.5.5"`}},
		{"send memo too long", send("--memo", strings.Repeat("é", chain.MaxMemo/2+1)), []string{"--memo", "258 bytes", "256"}},
		{"send bad node", send("--node", "ftp://example.com"), []string{"--node", `"ftp://example.com"`}},
		{"send unknown network", send("--network", "mainnet"), []string{`"mainnet"`}},
		{"send stray argument", send("extra"), []string{`"extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantUsageError(t, tt.args, tt.want...) })
	}
}

// TestWalletFailures checks commands that were asked well but could not be
// done: they exit 1 and say why.
func TestWalletFailures(t *testing.T) {
	dir := t.TempDir()
	exposed := filepath.Join(dir, "exposed.key")
	runWalletOK(t, "faucet", "--out", exposed)
	if err := os.Chmod(exposed, 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.key")
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	faucet := filepath.Join(dir, "faucet.key")
	runWalletOK(t, "faucet", "--out", faucet)
	missing := filepath.Join(dir, "missing.key")
	noNode := "http://127.0.0.1:" + freePort(t)
	addr := chain.FaucetAddress().String()
	tests := []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"missing key file", []string{"address", "--key", missing}, []string{missing, "no such file"}},
		{"key readable by others", []string{"address", "--key", exposed}, []string{exposed, "chmod 600"}},
		{"not a key", []string{"address", "--key", garbage}, []string{garbage, "64 hex digits"}},
		{"new in a missing directory", []string{"new", "--out", filepath.Join(missing, "k")}, []string{missing}},
		{"balance, no node", []string{"balance", addr, "--node", noNode}, []string{"cannot reach the node at " + noNode}},
		{"send, no node", []string{"send", "--key", faucet, "--to", addr, "--amount", "1", "--fee", "0.001", "--node", noNode},
			[]string{"cannot reach the node at " + noNode}},
		{"send, missing key file", []string{"send", "--key", missing, "--to", addr, "--amount", "1", "--fee", "0.001", "--node", noNode}, []string{missing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runMiner(t, 20*time.Second, append([]string{"wallet"}, tt.args...)...)
			if r.code != exitFailure || r.stdout != "" {
				t.Errorf("exit %d, stdout %q: want %d and nothing", r.code, r.stdout, exitFailure)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q: want it to mention %q", r.stderr, w)
				}
			}
		})
	}
}

func TestWalletHelp(t *testing.T) {
	for _, args := range [][]string{{"wallet", "-h"}, {"wallet", "--help"}, {"wallet", "new", "-h"}, {"wallet", "address", "-h"},
		{"wallet", "balance", "-h"}, {"wallet", "send", "--help"}, {"wallet", "faucet", "-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runMiner(t, 10*time.Second, args...)
			if r.code != 0 || !strings.Contains(r.stdout, "Usage: miner wallet") || r.stderr != "" {
				t.Errorf("exit %d, stdout %q, stderr %q: want 0 and a usage text on stdout", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// walletBalance is an account as `miner wallet balance` prints it.
type walletBalance struct {
	Address string `json:"address"`
	Balance string `json:"balance"` // coins, eight decimals
	Units   uint64 `json:"units"`
	Nonce   uint64 `json:"nonce"`
	Pending uint64 `json:"pending"`
}

// balanceOf runs `miner wallet balance` and checks its one JSON line.
func balanceOf(t *testing.T, nodeURL, addr string) walletBalance {
	t.Helper()
	out := runWalletOK(t, "balance", addr, "--node", nodeURL)
	lines := jsonLines[walletBalance](t, out)
	if len(lines) != 1 {
		t.Fatalf("balance printed %q: want one JSON line", out)
	}
	b := lines[0]
	if b.Address != addr || b.Balance != chain.FormatCoins(b.Units) {
		t.Fatalf("balance printed %q: want address %s and balance = units as coins with 8 decimals", out, addr)
	}
	return b
}

// walletNew writes a new key to path and returns its address.
func walletNew(t *testing.T, path string) string {
	t.Helper()
	return strings.TrimSpace(runWalletOK(t, "new", "--out", path))
}

// walletSend runs `miner wallet send` with args, which must succeed, and
// returns the txid it printed.
func walletSend(t *testing.T, args ...string) chain.Hash {
	t.Helper()
	out := runWalletOK(t, append([]string{"send"}, args...)...)
	m := txidRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("send printed %q, want {\"txid\":\"<64 hex digits>\"}", out)
	}
	txid, err := chain.ParseHash(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return txid
}

// faucetAndRecipient writes the faucet key and a new key to a new directory
// and returns the faucet's key file and the new key's address.
func faucetAndRecipient(t *testing.T) (faucetKey, to string) {
	t.Helper()
	dir := t.TempDir()
	faucetKey = filepath.Join(dir, "faucet.key")
	runWalletOK(t, "faucet", "--out", faucetKey)
	return faucetKey, walletNew(t, filepath.Join(dir, "to.key"))
}

// TestWalletSend sends from the faucet through a node that does not mine, so
// the transfers stay pending: each send must take the nonce after the
// pending ones, and a refusal must reach the user with its code.
func TestWalletSend(t *testing.T) {
	n := startNode(t, "node", nodeOpts{})
	nodeURL := n.url()
	faucetKey, to := faucetAndRecipient(t)
	faucet := chain.FaucetAddress().String()
	if b := balanceOf(t, nodeURL, faucet); b.Units != chain.FaucetAlloc || b.Nonce != 0 || b.Pending != 0 {
		t.Fatalf("faucet before sending: %+v, want %d units, nonce 0, nothing pending", b, chain.FaucetAlloc)
	}
	txids := map[chain.Hash]bool{}
	for i := range 2 {
		txids[walletSend(t, append([]string{"--key", faucetKey, "--to", to, "--amount", "1.5", "--fee", "0.001", "--memo", "lunch 🍕"}, n.walletFlags()...)...)] = true
		// Nothing is mined: the balance stays, the pending count grows.
		if b := balanceOf(t, nodeURL, faucet); b.Units != chain.FaucetAlloc || b.Nonce != 0 || b.Pending != uint64(i+1) {
			t.Errorf("faucet after send %d: %+v, want %d units, nonce 0, %d pending", i+1, b, chain.FaucetAlloc, i+1)
		}
	}
	if len(txids) != 2 {
		t.Errorf("two sends gave txids %v, want two different ones", txids)
	}
	if b := balanceOf(t, nodeURL, to); b.Units != 0 || b.Pending != 0 {
		t.Errorf("recipient before any block: %+v, want nothing", b)
	}

	r := runMiner(t, 20*time.Second, append([]string{"wallet", "send", "--key", faucetKey, "--to", to, "--amount", "2000000", "--fee", "0.001"}, n.walletFlags()...)...)
	if r.code != exitFailure || r.stdout != "" || !strings.Contains(r.stderr, "miner: insufficient-funds: ") {
		t.Errorf("send beyond the balance: exit %d, stdout %q, stderr %q: want %d and \"insufficient-funds: ...\"", r.code, r.stdout, r.stderr, exitFailure)
	}
}

// TestWalletSendMined sends through a mining node and waits for the
// transfer to move exactly the amount, and the fee, out of the faucet.
func TestWalletSendMined(t *testing.T) {
	n := startNode(t, "node", nodeOpts{mine: true, interval: "200ms"})
	nodeURL := n.url()
	faucetKey, to := faucetAndRecipient(t)
	const amount, fee = 12_345_000_00, 10_000 // 12.345 and 0.0001 coins
	walletSend(t, append([]string{"--key", faucetKey, "--to", to, "--amount", "12.345", "--fee", "0.0001"}, n.walletFlags()...)...)
	waitFor(t, 30*time.Second, fmt.Sprintf("recipient holds %d units", amount), func() (bool, string) {
		b := balanceOf(t, nodeURL, to)
		if b.Units != 0 && b.Units != amount {
			t.Fatalf("recipient %+v, want %d units", b, amount)
		}
		return b.Units == amount, fmt.Sprintf("%+v", b)
	})
	if b := balanceOf(t, nodeURL, chain.FaucetAddress().String()); b.Units != chain.FaucetAlloc-amount-fee || b.Nonce != 1 || b.Pending != 0 {
		t.Errorf("faucet after the block: %+v, want %d units, nonce 1, nothing pending", b, chain.FaucetAlloc-amount-fee)
	}
}

// TestWalletSendCredential: a send finds the token in the cookie file of
// the node it talks to: with no flag at all against a devnet node run with
// its defaults from the same directory, with --node alone against a
// regtest one, through --datadir or --api-cookie against one elsewhere;
// without the cookie it fails saying where to look, and with a wrong token
// the node refuses it.
func TestWalletSendCredential(t *testing.T) {
	faucetKey, to := faucetAndRecipient(t)
	send := []string{"wallet", "send", "--key", faucetKey, "--to", to, "--amount", "1", "--fee", "0.001"}

	t.Run("no flag", func(t *testing.T) {
		httpAddr := "127.0.0.1:" + strconv.Itoa(int(chain.Devnet.HTTPPort))
		ln, err := net.Listen("tcp", httpAddr)
		if err != nil {
			t.Skipf("a node with its defaults needs %s: %v", httpAddr, err)
		}
		ln.Close()
		// The devnet defaults: HTTP on 127.0.0.1:8001, the datadir ./data/devnet.
		p := startMiner(t, "-p", freePort(t), "--p2p-addr", "127.0.0.1", noStratum[0], noStratum[1])
		waitFor(t, 30*time.Second, "the devnet node's API answers", func() (bool, string) {
			_, err := httpGet("http://" + httpAddr + "/api/status")
			return err == nil && !p.exited(), fmt.Sprint(err, p.exited())
		})
		r := runMinerIn(t, p.cmd.Dir, 20*time.Second, send...)
		if r.code != 0 || !txidRE.MatchString(r.stdout) {
			t.Fatalf("exit %d, stdout %q, stderr %q: want 0 and a txid\nnode:\n%s", r.code, r.stdout, r.stderr, logTail(p.output.String()))
		}
	})

	t.Run("--node alone", func(t *testing.T) {
		// A regtest node with the default datadir of the directory it runs
		// in: the wallet asks it its network to find ./data/regtest.
		n := startNode(t, "node", nodeOpts{datadir: filepath.Join("data", "regtest")})
		r := runMinerIn(t, n.proc.cmd.Dir, 20*time.Second, append(send, "--node", n.url())...)
		if r.code != 0 || !txidRE.MatchString(r.stdout) {
			t.Fatalf("exit %d, stdout %q, stderr %q: want 0 and a txid", r.code, r.stdout, r.stderr)
		}
	})

	n := startNode(t, "node", nodeOpts{})
	wrongCookie := filepath.Join(t.TempDir(), "api.cookie")
	if err := os.WriteFile(wrongCookie, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // in stderr; "" for success
	}{
		{"--datadir", []string{"--node", n.url(), "--datadir", n.datadir}, ""},
		{"--api-cookie", []string{"--node", n.url(), "--api-cookie", filepath.Join(n.datadir, apiclient.CookieFile)}, ""},
		{"--api-token over a wrong cookie", []string{"--node", n.url(), "--api-cookie", wrongCookie, "--api-token", cookieOf(t, n)}, ""},
		{"the node's datadir elsewhere", []string{"--node", n.url()}, "--datadir"},
		{"a wrong cookie", []string{"--node", n.url(), "--api-cookie", wrongCookie}, "unauthorized"},
		{"a wrong token", []string{"--node", n.url(), "--datadir", n.datadir, "--api-token", "wrong"}, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runMiner(t, 20*time.Second, append(send, tt.args...)...)
			switch {
			case tt.want == "" && (r.code != 0 || !txidRE.MatchString(r.stdout)):
				t.Errorf("exit %d, stdout %q, stderr %q: want 0 and a txid", r.code, r.stdout, r.stderr)
			case tt.want != "" && (r.code != exitFailure || !strings.Contains(r.stderr, tt.want)):
				t.Errorf("exit %d, stderr %q: want %d and a message mentioning %q", r.code, r.stderr, exitFailure, tt.want)
			}
		})
	}
}

// cookieOf returns the token in n's cookie file.
func cookieOf(t *testing.T, n *node) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.datadir, apiclient.CookieFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
