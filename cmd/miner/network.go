package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/hashforge/hashforge/chain"
	flag "github.com/spf13/pflag"
)

// networkFlags choose a network and its data directory; the node and verify share them.
type networkFlags struct {
	network, dataDir string
}

func addNetworkFlags(fs *flag.FlagSet) *networkFlags {
	n := &networkFlags{}
	fs.StringVar(&n.network, "network", chain.Devnet.Name, "network: devnet or regtest")
	fs.StringVar(&n.dataDir, "datadir", "", "data directory (default ./data/<network>)")
	return n
}

// resolve returns the network's parameters and the data directory.
func (n *networkFlags) resolve() (*chain.Params, string, error) {
	params, err := chain.NetworkByName(n.network)
	if err != nil {
		return nil, "", usageError{err}
	}
	dir := n.dataDir
	if dir == "" {
		dir = defaultDataDir(params)
	}
	return params, dir, nil
}

// defaultDataDir is a network's data directory when --datadir names none.
func defaultDataDir(params *chain.Params) string { return filepath.Join("data", params.Name) }

// parseDatadirCommand parses the flags of a command that takes only a
// network and its datadir, such as verify and reindex; about is its help.
func parseDatadirCommand(name, about string, args []string, stderr io.Writer) (*chain.Params, string, error) {
	fs := newFlagSet("miner "+name, stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: miner %s [--network N] [--datadir DIR]\n\n%s\n\nFlags:\n%s", name, about, fs.FlagUsages())
	}
	network := addNetworkFlags(fs)
	if err := parse(fs, args); err != nil {
		return nil, "", err
	}
	return network.resolve()
}
