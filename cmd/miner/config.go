package main

import (
	"fmt"
	"io"

	"github.com/hashforge/hashforge/internal/flagfile"
	flag "github.com/spf13/pflag"
)

// secretFlags are the node's flags whose values are secrets: a config file
// that sets one must be private (mode 0600 or stricter) and --print-config
// never shows them. A flag that carries a password or token joins this list
// (pool-pass is Stratum's, marked once the node has it).
var secretFlags = []string{"api-token", "pool-pass"}

// configFlags are --config and --print-config, which only the node takes;
// internal/flagfile does the reading and printing, for any flag set.
type configFlags struct {
	fs    *flag.FlagSet
	file  string
	print bool
}

// addConfigFlags adds --config and --print-config to fs; call it after the
// node's other flags, and load once they are parsed.
func addConfigFlags(fs *flag.FlagSet) *configFlags {
	c := &configFlags{fs: fs}
	fs.StringVar(&c.file, "config", "", "TOML file of flags, keys being the long flag names (peer = [\"a:1\"]); the command line wins over it")
	fs.BoolVar(&c.print, "print-config", false, "print the configuration, after --config and the flags, as a TOML file --config reads, and exit")
	flagfile.CommandLineOnly(fs, "config", "print-config")
	for _, name := range secretFlags {
		if fs.Lookup(name) != nil {
			flagfile.Secret(fs, name)
		}
	}
	return c
}

// load sets the flags the --config file names that the command line has not.
func (c *configFlags) load() error {
	if c.file == "" {
		return nil
	}
	if err := flagfile.Load(c.fs, c.file); err != nil {
		return usageError{err}
	}
	return nil
}

// configHeader opens what --print-config prints.
const configHeader = `# hashforge node configuration, as miner --print-config prints it:
# miner --config FILE reads it. Keys are the long flags of miner --help.
# A key commented out is at its default, shown as this node would use it;
# remove the "# " to set it. Secrets (--api-token) are never printed.

`

// printTo writes the node's flags as a config file to w. Call it once the
// flags are checked and the defaults that follow the network are filled in,
// so that the commented-out defaults show what the node would use.
func (c *configFlags) printTo(w io.Writer) error {
	if _, err := io.WriteString(w, configHeader); err != nil {
		return err
	}
	if err := flagfile.Print(w, c.fs); err != nil {
		return fmt.Errorf("--print-config: %w", err)
	}
	return nil
}
