package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/internal/httpguard"
	"github.com/hashforge/hashforge/wallet"
	flag "github.com/spf13/pflag"
)

// walletCommands are the subcommands of `miner wallet`, in the order help lists them.
var walletCommands = []struct {
	name string
	command
}{
	{"new", command{"write a new key to a file and print its address", runWalletNew}},
	{"address", command{"print the address of a key file", runWalletAddress}},
	{"balance", command{"show an account's balance, nonce and pending transfers", runWalletBalance}},
	{"send", command{"sign a transfer and submit it to a node", runWalletSend}},
	{"faucet", command{"write the public faucet key (regtest and devnet) to a file", runWalletFaucet}},
}

func runWallet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		for _, c := range walletCommands {
			if c.name == args[0] {
				return c.run(ctx, args[1:], stdout, stderr)
			}
		}
	}
	fmt.Fprintf(stderr, "Usage: miner wallet COMMAND [flags]\n\n"+
		"Keep keys in files and move coins through a node's HTTP API.\n\n"+
		"Commands (miner wallet COMMAND --help for flags):\n")
	for _, c := range walletCommands {
		fmt.Fprintf(stderr, "  %-8s %s\n", c.name, c.summary)
	}
	switch {
	case len(args) == 0:
		return usagef("wallet: missing command")
	case args[0] == "-h" || args[0] == "--help":
		return flag.ErrHelp
	}
	return usagef("wallet: unknown command %q", args[0])
}

// nodeTimeout bounds each request: a node that accepts connections but never
// answers must not hang the wallet.
const nodeTimeout = 30 * time.Second

// nodeFlags say which node a wallet command talks to, and with what
// credential: by default the node of --network on this machine, and the
// token in its datadir's cookie file.
type nodeFlags struct {
	url, token, cookie string
	network            *networkFlags
	local              bool // the node is on this machine
}

func addNodeFlags(fs *flag.FlagSet) *nodeFlags {
	n := &nodeFlags{}
	fs.StringVar(&n.url, "node", "", "URL of the node's HTTP API (default http://127.0.0.1:<the network's HTTP port>)")
	n.network = addNetworkFlags(fs)
	addTokenFlag(fs, &n.token, "the node's API token, instead of its cookie file's")
	fs.StringVar(&n.cookie, "api-cookie", "", "file holding the node's API token (default: "+apiclient.CookieFile+
		" in --datadir, or for a node on this machine in the default datadir of the network it runs)")
	return n
}

// addTokenFlag adds --api-token, defaulting to $HASHFORGE_API_TOKEN so the
// token need not show in the process list.
func addTokenFlag(fs *flag.FlagSet, token *string, usage string) {
	fs.StringVar(token, "api-token", os.Getenv(apiclient.TokenEnv), usage+" (default $"+apiclient.TokenEnv+")")
}

// client checks the flags and returns a client for the node they name.
func (n *nodeFlags) client() (*apiclient.Client, error) {
	params, dataDir, err := n.network.resolve()
	if err != nil {
		return nil, err
	}
	local := "http://127.0.0.1:" + strconv.Itoa(int(params.HTTPPort))
	if n.url == "" {
		n.url = local
	}
	u, err := url.Parse(n.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--node %q: want a URL such as %s", n.url, local)
	}
	n.local = httpguard.Loopback(u.Host)
	c := &apiclient.Client{URL: n.url, Token: n.token, Cookie: n.cookie, HTTP: &http.Client{Timeout: nodeTimeout}}
	if c.Cookie == "" && n.network.dataDir != "" {
		c.Cookie = filepath.Join(dataDir, apiclient.CookieFile)
	}
	return c, nil
}

// findCookie gives a client that is to write, and has no credential, the
// cookie of the node it talks to when that node is on this machine: in the
// default datadir of the network the node says it runs. A node elsewhere is
// sent no local cookie.
func (n *nodeFlags) findCookie(ctx context.Context, c *apiclient.Client) error {
	if c.Token != "" || c.Cookie != "" || !n.local {
		return nil
	}
	params, err := c.Network(ctx)
	if err != nil {
		return err
	}
	c.Cookie = filepath.Join(defaultDataDir(params), apiclient.CookieFile)
	return nil
}

// requireFlags refuses a command run without any of the named flags.
func requireFlags(fs *flag.FlagSet, names ...string) error {
	for _, name := range names {
		if fs.Lookup(name).Value.String() == "" {
			return usagef("--%s is required", name)
		}
	}
	return nil
}

// parseKeyFileFlag parses the one flag new, faucet and address take: the key
// file to write (--out) or read (--key).
func parseKeyFileFlag(args []string, stderr io.Writer, cmd, flagName, about string) (string, error) {
	fs := newFlagSet("miner wallet "+cmd, stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: miner wallet %s --%s FILE\n\n%s\n\nFlags:\n%s", cmd, flagName, about, fs.FlagUsages())
	}
	path := fs.String(flagName, "", "key file (required)")
	if err := parse(fs, args); err != nil {
		return "", err
	}
	return *path, requireFlags(fs, flagName)
}

func runWalletNew(_ context.Context, args []string, stdout, stderr io.Writer) error {
	path, err := parseKeyFileFlag(args, stderr, "new", "out",
		"Write a new ed25519 key to FILE (mode 0600; an existing FILE is never\noverwritten) and print its address.")
	if err != nil {
		return err
	}
	key, err := wallet.NewKeyFile(path)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, wallet.Address(key))
	return nil
}

func runWalletFaucet(_ context.Context, args []string, stdout, stderr io.Writer) error {
	path, err := parseKeyFileFlag(args, stderr, "faucet", "out",
		"Write the faucet key to FILE (mode 0600; an existing FILE is never overwritten)\n"+
			"and print its address. Genesis on regtest and devnet gives the faucet\n"+
			chain.FormatCoins(chain.FaucetAlloc)+" coins to send from. The key is public, for tests and demos only.")
	if err != nil {
		return err
	}
	key := chain.FaucetKey()
	if err := wallet.WriteKeyFile(path, key); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "warning: the faucet key is public (its seed is SHA-256 of %q): anyone can spend\n"+
		"what it holds. Use it on regtest and devnet, for tests and demos only.\n", chain.FaucetSeedPhrase)
	fmt.Fprintln(stdout, wallet.Address(key))
	return nil
}

func runWalletAddress(_ context.Context, args []string, stdout, stderr io.Writer) error {
	path, err := parseKeyFileFlag(args, stderr, "address", "key", "Print the address of the key in FILE.")
	if err != nil {
		return err
	}
	key, err := wallet.LoadKey(path)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, wallet.Address(key))
	return nil
}

// walletBalance is the output of `miner wallet balance`.
type walletBalance struct {
	Address chain.Address `json:"address"`
	Balance string        `json:"balance"` // coins, eight decimals
	Units   uint64        `json:"units"`
	Nonce   uint64        `json:"nonce"`
	Pending uint64        `json:"pending"`
}

func runWalletBalance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("miner wallet balance", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: miner wallet balance ADDR [--network NET | --node URL]\n\n"+
			"Print the confirmed balance and nonce of the account ADDR (40 hex digits) and how\n"+
			"many of its transfers are pending, as one JSON line.\n\nFlags:\n%s", fs.FlagUsages())
	}
	node := addNodeFlags(fs)
	if err := parseArgs(fs, args, 1); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("want the address to look up: miner wallet balance ADDR")
	}
	addr, err := chain.ParseAddress(fs.Arg(0))
	if err != nil {
		return usageError{err}
	}
	client, err := node.client()
	if err != nil {
		return err
	}
	a, err := client.Account(ctx, addr)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(walletBalance{
		Address: addr, Balance: chain.FormatCoins(a.Balance), Units: a.Balance, Nonce: a.Nonce, Pending: a.Pending,
	})
}

func runWalletSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("miner wallet send", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: miner wallet send --key FILE --to ADDR --amount COINS --fee COINS [--memo TEXT] [--network NET | --node URL]\n\n"+
			"Sign a transfer from the key's account and submit it to the node, which gives the\n"+
			"network and the sender's next nonce. Prints the txid as JSON. The node's API token\n"+
			"comes from the cookie file the node keeps in its datadir while it runs (for a node\n"+
			"on this machine, ./data/<its network>/"+apiclient.CookieFile+" unless --datadir says otherwise).\n\nFlags:\n%s", fs.FlagUsages())
	}
	keyPath := fs.String("key", "", "sender's key file (required)")
	toHex := fs.String("to", "", "recipient's address, 40 hex digits (required)")
	amountCoins := fs.String("amount", "", "coins to send, at most 8 decimal places (required)")
	feeCoins := fs.String("fee", "", "coins paid to the miner, at most 8 decimal places (required)")
	memo := fs.String("memo", "", "text the transfer carries, at most "+strconv.Itoa(chain.MaxMemo)+" bytes")
	node := addNodeFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "key", "to", "amount", "fee"); err != nil {
		return err
	}
	to, err := chain.ParseAddress(*toHex)
	if err != nil {
		return usagef("--to: %v", err)
	}
	amount, err := chain.ParseCoins(*amountCoins)
	if err != nil {
		return usagef("--amount: %v", err)
	}
	fee, err := chain.ParseCoins(*feeCoins)
	if err != nil {
		return usagef("--fee: %v", err)
	}
	if len(*memo) > chain.MaxMemo {
		return usagef("--memo: %d bytes, at most %d allowed", len(*memo), chain.MaxMemo)
	}
	client, err := node.client()
	if err != nil {
		return err
	}
	key, err := wallet.LoadKey(*keyPath)
	if err != nil {
		return err
	}
	if err := node.findCookie(ctx, client); err != nil {
		return err
	}
	txid, err := wallet.Send(ctx, client, key, to, amount, fee, []byte(*memo))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w (a node writes it to its datadir while it serves HTTP: give the node's --datadir, --api-cookie or --api-token)", err)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(struct {
		TxID chain.Hash `json:"txid"`
	}{txid})
}
