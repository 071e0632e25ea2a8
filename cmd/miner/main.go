// Command miner runs a hashforge node and its tools.
//
//	miner [flags]                      run a node (-m mines)
//	miner search --header HEX ...      search a header's nonce range
//	miner bench [--duration 10s]       measure hashrate
//	miner devices                      list hashing devices
//	miner verify --datadir DIR         re-validate a stored chain
//	miner reindex --datadir DIR        rebuild a damaged store from its blocks
//	miner devnet -n N [--mine]         run N local nodes joined together
//	miner wallet COMMAND ...           keys, balances and transfers
//	miner sim -n N --blocks B          simulate N nodes on a virtual clock
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	flag "github.com/spf13/pflag"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad flags or input: nothing was done
)

// usageError marks errors in what the user asked for; they exit with exitUsage.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"search":  {"search a header's nonce range for hashes under a target", runSearch},
	"bench":   {"measure the hashrate of a backend", runBench},
	"devices": {"list the hashing devices found", runDevices},
	"verify":  {"re-validate a stored chain from genesis", runVerify},
	"reindex": {"rebuild a damaged chain store from the blocks it still holds", runReindex},
	"devnet":  {"run N local nodes joined together, with a live status table", runDevnet},
	"wallet":  {"keep keys, read balances and send coins through a node", runWallet},
	"sim":     {"simulate a network of many nodes on a virtual clock, deterministically", runSim},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "version") {
		fmt.Fprintln(stdout, "miner", buildVersion())
		return exitOK
	}
	// Asked for, help is the output: it goes to stdout, so that
	// "miner --help | less" works; a usage error's text stays on stderr.
	if wantsHelp(args) {
		stderr = stdout
	}
	runner := runNode
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, ok := commands[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "miner: unknown command %q\n\n", args[0])
			printCommands(stderr)
			return exitUsage
		}
		runner, args = cmd.run, args[1:]
	}
	err := runner(ctx, args, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "miner: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "miner: %v\n", err)
		return exitFailure
	}
}

func printCommands(w io.Writer) {
	fmt.Fprintln(w, "Commands (miner COMMAND --help for flags):")
	for _, name := range []string{"search", "bench", "devices", "verify", "reindex", "devnet", "wallet"} {
		fmt.Fprintf(w, "  %-8s %s\n", name, commands[name].summary)
	}
	fmt.Fprintf(w, "  %-8s %s\n", "version", "print the version (also --version)")
}

// wantsHelp reports whether args ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--help", "-help":
			return true
		}
	}
	return false
}

// newFlagSet returns a flag set that reports errors instead of exiting, with
// parse errors marked as usage errors by parse.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	return fs
}

// parse parses a command that takes flags only.
func parse(fs *flag.FlagSet, args []string) error { return parseArgs(fs, args, 0) }

// parseArgs parses a command that takes flags and up to positional
// arguments after them; more is a usage error.
func parseArgs(fs *flag.FlagSet, args []string, positional int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > positional {
		return usagef("unexpected argument %q", fs.Arg(positional))
	}
	return nil
}

// logFlags are the logging flags every long-running command takes.
type logFlags struct {
	level, format string
}

func addLogFlags(fs *flag.FlagSet) *logFlags {
	l := &logFlags{}
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", "text", "log format: text or json")
	return l
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", l.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", l.format)
}
