package main

import (
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
