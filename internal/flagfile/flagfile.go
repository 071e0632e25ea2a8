// Package flagfile sets a pflag.FlagSet from a TOML file and writes a
// FlagSet back out as TOML that it reads again.
//
// It knows nothing of the node: a key is a flag's long name, and what a
// value may be follows from the flag's type, so a flag added to the node
// (Stratum's --pool, --pool-user, ...) is at once a key of the file, with no
// table to keep beside the flags. It lives here rather than in cmd/miner
// because it is logic, with tests of its own, and cmd/miner only wires.
//
// The rules:
//   - every key names a flag by its long name; another key is an error that
//     names the file, the line and, when one is close, the flag meant;
//   - a flag given on the command line wins over the file (pflag's Changed);
//     a flag the file sets counts as given (Changed) afterwards;
//   - booleans are TOML booleans, numbers TOML integers (floats for float
//     flags), durations strings such as "20ms", repeatable and list flags
//     TOML arrays; other flags take a string, as on the command line;
//   - a flag marked with [CommandLineOnly] (such as --config itself) is
//     refused in a file;
//   - a flag marked with [Secret] (such as --api-token) may be in the file
//     only when neither group nor others may read the file, and [Print]
//     never shows its value.
package flagfile

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	flag "github.com/spf13/pflag"
)

// Annotations on a flag that this package reads; set them with [Secret]
// and [CommandLineOnly].
const (
	secretAnnotation      = "flagfile/secret"
	commandLineAnnotation = "flagfile/command-line-only"
)

// Secret marks the named flags as secrets: a file that sets one must not be
// readable by group or others, and [Print] does not show their values.
// It panics on a name the set lacks, as pflag does for its own marks.
func Secret(fs *flag.FlagSet, names ...string) { annotate(fs, secretAnnotation, names) }

// CommandLineOnly marks the named flags as ones a file may not set, such as
// the flag that names the file; [Print] leaves them out.
func CommandLineOnly(fs *flag.FlagSet, names ...string) {
	annotate(fs, commandLineAnnotation, names)
}

func annotate(fs *flag.FlagSet, key string, names []string) {
	for _, name := range names {
		if err := fs.SetAnnotation(name, key, []string{"true"}); err != nil {
			panic(fmt.Sprintf("flagfile: %v", err))
		}
	}
}

func isSecret(f *flag.Flag) bool        { return f.Annotations[secretAnnotation] != nil }
func commandLineOnly(f *flag.Flag) bool { return f.Annotations[commandLineAnnotation] != nil }

// Load reads the TOML file path and sets each flag it names that the
// command line has not set. Every problem in the file is reported, each as
// "path:line: key: what is wrong"; a file with an unknown key or a value of
// the wrong type sets nothing.
func Load(fs *flag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("config file %s does not exist", path)
		}
		return fmt.Errorf("config file: %w", err)
	}
	var keys map[string]toml.Primitive
	md, err := toml.Decode(string(data), &keys)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return fmt.Errorf("%s: %w", path, err)
	}

	type setting struct {
		f    *flag.Flag
		line int
		val  any
	}
	var (
		settings []setting
		problems []error
		secrets  []string
	)
	for _, key := range md.Keys() {
		if len(key) != 1 {
			continue // inside a table: the table's own key is reported
		}
		name := key[0]
		prim := keys[name]
		line := keyLine(&md, prim)
		where := fmt.Sprintf("%s:%d: %s", path, line, name)
		f := fs.Lookup(name)
		if f == nil || commandLineOnly(f) {
			msg := fmt.Sprintf("%s: unknown key", where)
			if f != nil {
				msg = fmt.Sprintf("%s: --%s is given on the command line only, not in a config file", where, name)
			} else if s := suggest(fs, name); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			problems = append(problems, errors.New(msg))
			continue
		}
		var val any
		if err := md.PrimitiveDecode(prim, &val); err != nil {
			problems = append(problems, fmt.Errorf("%s: %v", where, err))
			continue
		}
		if isSecret(f) && val != "" {
			secrets = append(secrets, name)
		}
		if err := check(f, val); err != nil {
			problems = append(problems, fmt.Errorf("%s: %v", where, err))
			continue
		}
		settings = append(settings, setting{f, line, val})
	}
	if len(secrets) > 0 {
		info, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("config file: %w", err)
		}
		if mode := info.Mode().Perm(); mode&0o044 != 0 {
			problems = append(problems, fmt.Errorf("%s holds the secret %s but group or others may read it (mode %04o): chmod 600 %s",
				path, strings.Join(secrets, ", "), mode, path))
		}
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	// The values are checked against the flags' types above; setting them
	// may still fail on what a flag parses (a duration, a port too large).
	for _, s := range settings {
		if s.f.Changed {
			continue // the command line wins
		}
		if err := set(fs, s.f, s.val); err != nil {
			problems = append(problems, fmt.Errorf("%s:%d: %s: %v", path, s.line, s.f.Name, err))
		}
	}
	return errors.Join(problems...)
}

// errProbe is what probe returns, so that the decoder tells its line.
var errProbe = errors.New("flagfile: probe")

type probe struct{}

func (probe) UnmarshalTOML(any) error { return errProbe }

// keyLine returns the line of the key whose value is prim, or 0. The
// decoder does not export a key's position, but every error it returns
// while decoding a value carries it.
func keyLine(md *toml.MetaData, prim toml.Primitive) int {
	var pe toml.ParseError
	if errors.As(md.PrimitiveDecode(prim, probe{}), &pe) {
		return pe.Position.Line
	}
	return 0
}

// kind is what a flag's values are in TOML.
type kind int

const (
	kindString kind = iota // a string, parsed by the flag as on the command line
	kindBool
	kindInt
	kindFloat
	kindDuration
	kindList
)

func kindOf(f *flag.Flag) kind {
	if _, ok := f.Value.(flag.SliceValue); ok {
		return kindList
	}
	t := f.Value.Type()
	switch {
	case t == "bool":
		return kindBool
	case t == "duration":
		return kindDuration
	case t == "count" || strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return kindInt
	case strings.HasPrefix(t, "float"):
		return kindFloat
	}
	return kindString
}

// tomlType names the TOML type of a decoded value, for errors.
func tomlType(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}

// check reports whether v is a value of f's kind.
func check(f *flag.Flag, v any) error {
	want := ""
	switch kindOf(f) {
	case kindBool:
		if _, ok := v.(bool); !ok {
			want = "a boolean (true or false)"
		}
	case kindInt:
		if _, ok := v.(int64); !ok {
			want = "an integer"
		}
	case kindFloat:
		switch v.(type) {
		case int64, float64:
		default:
			want = "a number"
		}
	case kindDuration:
		if _, ok := v.(string); !ok {
			want = `a duration as a string, such as "20ms" or "1m30s"`
		}
	case kindList:
		list, ok := v.([]any)
		if !ok {
			want = fmt.Sprintf("an array, such as %s = [%q]", f.Name, "value")
			break
		}
		for i, e := range list {
			switch e.(type) {
			case string, int64, float64, bool:
			default:
				return fmt.Errorf("element %d is %s, want a string or a number", i+1, tomlType(e))
			}
		}
	default:
		if _, ok := v.(string); !ok {
			want = "a string"
		}
	}
	if want != "" {
		return fmt.Errorf("is %s, want %s", tomlType(v), want)
	}
	return nil
}

// set sets f to v, which check has passed, and marks f as given.
func set(fs *flag.FlagSet, f *flag.Flag, v any) error {
	if sv, ok := f.Value.(flag.SliceValue); ok {
		list := v.([]any)
		elems := make([]string, len(list))
		for i, e := range list {
			elems[i] = scalar(e)
		}
		if err := sv.Replace(elems); err != nil {
			return err
		}
		// Replace does not tell the set; fs.Set would append or split
		// on commas. Changed is what "given" means to the commands.
		f.Changed = true
		return nil
	}
	if err := fs.Set(f.Name, scalar(v)); err != nil {
		var ive *flag.InvalidValueError
		if errors.As(err, &ive) && ive.Unwrap() != nil {
			return ive.Unwrap() // pflag's message names the flag as --name
		}
		return err
	}
	return nil
}

// scalar is a TOML scalar as a command line would give it.
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// suggest returns the flags a mistyped key most likely meant, "" if none
// is close: the long name of a shorthand or of a key written with
// underscores, else names a typo or two away and names the key extends
// (http-port: http), nearest first, three at most.
func suggest(fs *flag.FlagSet, key string) string {
	type candidate struct {
		name  string
		score float64
	}
	var found []candidate
	fs.VisitAll(func(f *flag.Flag) {
		if commandLineOnly(f) || f.Hidden {
			return
		}
		score := float64(distance(key, f.Name))
		switch {
		case key == f.Shorthand || strings.ReplaceAll(key, "_", "-") == f.Name:
			score = 0
		case strings.HasPrefix(key, f.Name+"-") || strings.HasPrefix(f.Name, key+"-"):
			score = min(score, 1.5)
		}
		if score <= 2 {
			found = append(found, candidate{f.Name, score})
		}
	})
	slices.SortStableFunc(found, func(a, b candidate) int { return cmp.Compare(a.score, b.score) })
	var names []string
	for _, c := range found {
		if c.score == 0 {
			return c.name
		}
		if len(names) < 3 {
			names = append(names, c.name)
		}
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Print writes every flag of fs as TOML that [Load] reads back to the same
// flags, in the order the set keeps them (pflag sorts them unless
// SortFlags is off). A flag that was given (Changed) is a key; one at its
// default is commented out with its value, so the text lists what may be
// set without giving what was not: a command that treats a flag left
// alone differently from one given its default value (a port that follows
// the network) reads the same thing back. A secret is always commented
// out, its value hidden. Flags marked CommandLineOnly are left out.
func Print(w io.Writer, fs *flag.FlagSet) error {
	var b bytes.Buffer
	fs.VisitAll(func(f *flag.Flag) {
		if commandLineOnly(f) || f.Hidden {
			return
		}
		line := encode(f)
		switch {
		case isSecret(f) && f.Value.String() != "":
			fmt.Fprintf(&b, "# %s = \"...\"  # set; secrets are not printed\n", f.Name)
		case isSecret(f), !f.Changed:
			fmt.Fprintf(&b, "# %s", line)
		default:
			b.WriteString(line)
		}
	})
	_, err := w.Write(b.Bytes())
	return err
}

// encode returns "name = value\n" for f's value, quoted as TOML quotes it.
func encode(f *flag.Flag) string {
	var v any = f.Value.String()
	switch kindOf(f) {
	case kindList:
		v = append([]string{}, f.Value.(flag.SliceValue).GetSlice()...)
	case kindBool:
		v = f.Value.String() == "true"
	case kindInt, kindFloat:
		// A number as the flag prints it is a TOML number, unquoted.
		if s := f.Value.String(); isNumber(s) {
			return f.Name + " = " + s + "\n"
		}
	}
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(map[string]any{f.Name: v}); err != nil {
		return fmt.Sprintf("%s = %q\n", f.Name, f.Value.String())
	}
	return b.String()
}

// isNumber reports whether s reads as a TOML integer or float.
func isNumber(s string) bool {
	var v map[string]any
	_, err := toml.Decode("x = "+s, &v)
	if err != nil {
		return false
	}
	return slices.Contains([]string{"int64", "float64"}, fmt.Sprintf("%T", v["x"]))
}
