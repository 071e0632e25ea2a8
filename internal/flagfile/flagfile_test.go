package flagfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	flag "github.com/spf13/pflag"
)

// testFlags is a set with a flag of every kind the node has.
type testFlags struct {
	fs       *flag.FlagSet
	mine     *bool
	port     *uint16
	maxPeers *int
	fee      *uint64
	temp     *float64
	interval *time.Duration
	network  *string
	token    *string
	peers    *[]string
	devices  *[]string
	config   *string
}

func newTestFlags() *testFlags {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	t := &testFlags{fs: fs}
	t.mine = fs.BoolP("mine", "m", false, "mine")
	t.port = fs.Uint16P("port", "p", 0, "P2P port")
	t.maxPeers = fs.Int("max-peers", 32, "most peers")
	t.fee = fs.Uint64("min-fee-rate", 1, "least fee rate")
	t.temp = fs.Float64("gpu-temp-limit", 0, "temperature")
	t.interval = fs.Duration("ping-interval", 30*time.Second, "ping interval")
	t.network = fs.String("network", "devnet", "network")
	t.token = fs.String("api-token", "", "token")
	t.peers = fs.StringArrayP("peer", "k", nil, "peers")
	t.devices = fs.StringSlice("devices", nil, "devices")
	t.config = fs.String("config", "", "config file")
	Secret(fs, "api-token")
	CommandLineOnly(fs, "config")
	return t
}

// writeFile writes a config file with mode perm into a fresh directory.
func writeFile(t *testing.T, text string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.toml")
	if err := os.WriteFile(path, []byte(text), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		file  string
		perm  os.FileMode // 0644 when 0
		args  []string
		errs  []string // each must be in the error; none: no error
		check func(t *testing.T, f *testFlags)
	}{
		{name: "empty", file: "# nothing\n", check: func(t *testing.T, f *testFlags) {
			if f.fs.Changed("mine") || *f.maxPeers != 32 {
				t.Errorf("an empty file changed flags")
			}
		}},
		{name: "scalars", file: "mine = true\nport = 8002\nmax-peers = 4\nmin-fee-rate = 7\ngpu-temp-limit = 80.5\nnetwork = \"regtest\"\n",
			check: func(t *testing.T, f *testFlags) {
				if !*f.mine || *f.port != 8002 || *f.maxPeers != 4 || *f.fee != 7 || *f.temp != 80.5 || *f.network != "regtest" {
					t.Errorf("got mine %v port %d max-peers %d fee %d temp %v network %q", *f.mine, *f.port, *f.maxPeers, *f.fee, *f.temp, *f.network)
				}
				for _, name := range []string{"mine", "port", "max-peers", "network"} {
					if !f.fs.Changed(name) {
						t.Errorf("%s set by the file is not Changed", name)
					}
				}
				if f.fs.Changed("ping-interval") {
					t.Errorf("ping-interval is Changed; the file does not set it")
				}
			}},
		{name: "bool false", file: "mine = false\n", args: nil, check: func(t *testing.T, f *testFlags) {
			if *f.mine || !f.fs.Changed("mine") {
				t.Errorf("mine = false: got %v, changed %v", *f.mine, f.fs.Changed("mine"))
			}
		}},
		{name: "integer float", file: "gpu-temp-limit = 80\n", check: func(t *testing.T, f *testFlags) {
			if *f.temp != 80 {
				t.Errorf("gpu-temp-limit = %v", *f.temp)
			}
		}},
		{name: "duration", file: "ping-interval = \"20ms\"\n", check: func(t *testing.T, f *testFlags) {
			if *f.interval != 20*time.Millisecond {
				t.Errorf("ping-interval = %v", *f.interval)
			}
		}},
		{name: "slices", file: "peer = [\"a:1\", \"b:2\"]\ndevices = [\"cuda0\", \"opencl1,x\"]\n", check: func(t *testing.T, f *testFlags) {
			if !reflect.DeepEqual(*f.peers, []string{"a:1", "b:2"}) || !reflect.DeepEqual(*f.devices, []string{"cuda0", "opencl1,x"}) {
				t.Errorf("peer %q devices %q", *f.peers, *f.devices)
			}
			if !f.fs.Changed("peer") {
				t.Errorf("peer set by the file is not Changed")
			}
		}},
		{name: "empty slice", file: "peer = []\n", check: func(t *testing.T, f *testFlags) {
			if len(*f.peers) != 0 || !f.fs.Changed("peer") {
				t.Errorf("peer %q changed %v", *f.peers, f.fs.Changed("peer"))
			}
		}},
		{name: "command line wins", file: "port = 8002\nmine = true\npeer = [\"a:1\"]\nmax-peers = 4\n",
			args: []string{"-p", "9000", "--mine=false", "-k", "c:3"},
			check: func(t *testing.T, f *testFlags) {
				if *f.port != 9000 || *f.mine || !reflect.DeepEqual(*f.peers, []string{"c:3"}) || *f.maxPeers != 4 {
					t.Errorf("port %d mine %v peer %q max-peers %d: want the command line's 9000, false, [c:3] and the file's 4", *f.port, *f.mine, *f.peers, *f.maxPeers)
				}
			}},
		{name: "unknown key", file: "mine = true\n\nmax-peer = 3\n", errs: []string{"node.toml:3: max-peer: unknown key", "did you mean max-peers?"}},
		{name: "shorthand key", file: "m = true\n", errs: []string{"node.toml:1: m: unknown key (did you mean mine?)"}},
		{name: "underscore key", file: "max_peers = 3\n", errs: []string{"did you mean max-peers?"}},
		{name: "extended key", file: "port-number = 1\n", errs: []string{"port-number: unknown key (did you mean port?)"}},
		{name: "far key", file: "stratum-password = \"x\"\n", errs: []string{"stratum-password: unknown key"}},
		{name: "table", file: "[stratum]\nport = 3333\n", errs: []string{"node.toml:1: stratum: unknown key"}},
		{name: "flag as table", file: "[peer]\nx = 1\n", errs: []string{"node.toml:1: peer: is a table, want an array"}},
		{name: "config in file", file: "config = \"other.toml\"\n", errs: []string{"node.toml:1: config: --config is given on the command line only"}},
		{name: "bool as string", file: "\nmine = \"yes\"\n", errs: []string{"node.toml:2: mine: is a string, want a boolean"}},
		{name: "int as string", file: "port = \"8002\"\n", errs: []string{"node.toml:1: port: is a string, want an integer"}},
		{name: "duration as int", file: "ping-interval = 20\n", errs: []string{"node.toml:1: ping-interval: is an integer, want a duration as a string"}},
		{name: "bad duration", file: "ping-interval = \"20 ms\"\n", errs: []string{"node.toml:1: ping-interval:", "unknown unit"}},
		{name: "port out of range", file: "port = 70000\n", errs: []string{"node.toml:1: port:", "out of range"}},
		{name: "slice as string", file: "peer = \"a:1\"\n", errs: []string{"node.toml:1: peer: is a string, want an array"}},
		{name: "string as int", file: "network = 3\n", errs: []string{"node.toml:1: network: is an integer, want a string"}},
		{name: "every problem", file: "mine = 1\nport = true\nbogus = 1\n", errs: []string{"node.toml:1: mine", "node.toml:2: port", "node.toml:3: bogus"},
			check: func(t *testing.T, f *testFlags) {}},
		{name: "syntax", file: "mine = \nport = 1\n", errs: []string{"node.toml:1: ", "expected value"}},
		{name: "secret private", file: "api-token = \"s3cret\"\n", perm: 0o600, check: func(t *testing.T, f *testFlags) {
			if *f.token != "s3cret" {
				t.Errorf("api-token = %q", *f.token)
			}
		}},
		{name: "secret readable", file: "api-token = \"s3cret\"\n", perm: 0o644, errs: []string{"holds the secret api-token but group or others may read it (mode 0644): chmod 600"}},
		{name: "secret group", file: "api-token = \"s3cret\"\n", perm: 0o640, errs: []string{"(mode 0640)"}},
		{name: "empty secret readable", file: "api-token = \"\"\n", perm: 0o644},
		{name: "secret on command line", file: "api-token = \"s3cret\"\n", perm: 0o644, args: []string{"--api-token", "t"},
			errs: []string{"holds the secret api-token"}, check: func(t *testing.T, f *testFlags) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFlags()
			if err := f.fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			perm := tc.perm
			if perm == 0 {
				perm = 0o644
			}
			path := writeFile(t, tc.file, perm)
			err := Load(f.fs, path)
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
			} else {
				if err == nil {
					t.Fatalf("Load: no error, want %q", tc.errs)
				}
				for _, want := range tc.errs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("Load: %v\nwant it to say %q", err, want)
					}
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("Load: %v\nwant it to name the file %s", err, path)
				}
				if tc.check == nil {
					if f.fs.Changed("mine") || f.fs.Changed("port") || f.fs.Changed("api-token") {
						t.Errorf("a refused file set flags")
					}
				}
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	f := newTestFlags()
	path := filepath.Join(t.TempDir(), "nope.toml")
	err := Load(f.fs, path)
	if err == nil || !strings.Contains(err.Error(), "config file "+path+" does not exist") {
		t.Fatalf("Load of a missing file: %v", err)
	}
}

func TestPrint(t *testing.T) {
	f := newTestFlags()
	if err := f.fs.Parse([]string{"-m", "-k", "a:1", "-k", `b"2`, "--ping-interval", "1m30s", "--api-token", "s3cret", "--config", "x.toml"}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Print(&b, f.fs); err != nil {
		t.Fatal(err)
	}
	want := `mine = true
# port = 0
# max-peers = 32
# min-fee-rate = 1
# gpu-temp-limit = 0
ping-interval = "1m30s"
# network = "devnet"
# api-token = "..."  # set; secrets are not printed
peer = ["a:1", "b\"2"]
# devices = []
`
	if b.String() != want {
		t.Errorf("Print:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestRoundTrip prints a set, loads the text into a fresh set and prints
// that: the two texts and the two sets' values must be the same.
func TestRoundTrip(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"-m", "-p", "8002", "--max-peers", "0", "--gpu-temp-limit", "82.5", "--network", "regtest", "--devices", "cuda0,opencl1", "-k", "a:1", "-k", "b:2", "--ping-interval", "20ms", "--min-fee-rate", "9223372036854775807"},
		{"--mine=false", "--peer", "x y:1", "--network", "with \"quotes\" and \\ and\ttab"},
	} {
		a := newTestFlags()
		if err := a.fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		var first bytes.Buffer
		if err := Print(&first, a.fs); err != nil {
			t.Fatal(err)
		}
		b := newTestFlags()
		if err := Load(b.fs, writeFile(t, first.String(), 0o644)); err != nil {
			t.Fatalf("%q: Load of what Print wrote:\n%s\n%v", args, first.String(), err)
		}
		var second bytes.Buffer
		if err := Print(&second, b.fs); err != nil {
			t.Fatal(err)
		}
		if first.String() != second.String() {
			t.Errorf("%q: printed, loaded and printed again:\n%s\nwant:\n%s", args, second.String(), first.String())
		}
		a.fs.VisitAll(func(fa *flag.Flag) {
			fb := b.fs.Lookup(fa.Name)
			if fa.Value.String() != fb.Value.String() || fa.Changed != fb.Changed {
				t.Errorf("%q: --%s is %s (changed %v) after the round trip, want %s (changed %v)",
					args, fa.Name, fb.Value, fb.Changed, fa.Value, fa.Changed)
			}
		})
	}
}
