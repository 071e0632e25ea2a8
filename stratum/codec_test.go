package stratum_test

import (
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/stratum"
)

// params parses a JSON array into the raw params a decoder takes.
func params(t testing.TB, s string) []json.RawMessage {
	t.Helper()
	var p []json.RawMessage
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return p
}

const (
	goodPrev   = `"1901125004612a1701c3a621d930d31d36b607df1fccc2160002d01c00000000"`
	goodBranch = `["c40297f730dd7b5a99567eb8d27b78758f607507c52292d02d4031895b52f2ff"]`
)

// notify writes notify params with field i replaced by with (i < 0: none).
func notify(i int, with string) string {
	f := []string{`"j1"`, goodPrev, `"01"`, `"02"`, goodBranch, `"20000000"`, `"1d00ffff"`, `"4d1b2237"`, `true`}
	if i >= 0 {
		f[i] = with
	}
	return "[" + strings.Join(f, ",") + "]"
}

// refused checks that err is a refusal naming what, never anything else.
func refused(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, stratum.ErrBadParams) {
		t.Fatalf("err %v, want one wrapping ErrBadParams", err)
	}
	if !strings.Contains(err.Error(), what) {
		t.Errorf("err %q does not name %q", err, what)
	}
}

func TestDecodeNotifyRefuses(t *testing.T) {
	long := `[` + strings.Repeat(`"`+strings.Repeat("00", 32)+`",`, 33)
	long = long[:len(long)-1] + `]`
	for _, c := range []struct{ name, params, what string }{
		{"too few", `["j1"]`, "want 9 params"},
		{"too many", strings.TrimSuffix(notify(-1, ""), "]") + `,1]`, "want 9 params"},
		{"job id number", notify(0, `7`), "job id"},
		{"job id null", notify(0, `null`), "job id"},
		{"prevhash short", notify(1, `"00"`), "prevhash"},
		{"prevhash not hex", notify(1, `"`+strings.Repeat("zz", 32)+`"`), "prevhash"},
		{"prevhash array", notify(1, `[]`), "prevhash"},
		{"coinb1 odd", notify(2, `"012"`), "coinb1"},
		{"coinb2 not hex", notify(3, `"0g"`), "coinb2"},
		{"coinb2 bool", notify(3, `false`), "coinb2"},
		{"branch string", notify(4, `"00"`), "merkle branch"},
		{"branch null", notify(4, `null`), "merkle branch"},
		{"branch item number", notify(4, `[1]`), "merkle branch[0]"},
		{"branch item short", notify(4, `["00"]`), "merkle branch[0]"},
		{"branch too long", notify(4, long), "over 32"},
		{"version short", notify(5, `"2000000"`), "version"},
		{"version number", notify(5, `536870912`), "version"},
		{"nbits long", notify(6, `"1d00ffff00"`), "nbits"},
		{"nbits not hex", notify(6, `"1d00fffx"`), "nbits"},
		{"ntime null", notify(7, `null`), "ntime"},
		{"clean string", notify(8, `"true"`), "clean jobs"},
		{"clean null", notify(8, `null`), "clean jobs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := stratum.DecodeNotify(params(t, c.params))
			refused(t, err, c.what)
		})
	}
}

// submit writes submit params with field i replaced by with (i < 0: none).
func submit(i int, with string) string {
	f := []string{`"user"`, `"j1"`, `"00000001"`, `"4d1b2237"`, `"10572b0f"`}
	if i >= 0 {
		f[i] = with
	}
	return "[" + strings.Join(f, ",") + "]"
}

func TestDecodeSubmitRefuses(t *testing.T) {
	for _, c := range []struct{ name, params, what string }{
		{"too few", `["user","j1","00000001","4d1b2237"]`, "want 5 to 6 params"},
		{"too many", `["user","j1","00000001","4d1b2237","10572b0f","00000000",1]`, "want 5 to 6 params"},
		{"worker number", submit(0, `1`), "worker"},
		{"job id null", submit(1, `null`), "job id"},
		{"extranonce2 short", submit(2, `"000001"`), "extranonce2"},
		{"extranonce2 long", submit(2, `"0000000001"`), "extranonce2"},
		{"extranonce2 not hex", submit(2, `"0000000x"`), "extranonce2"},
		{"ntime short", submit(3, `"4d1b223"`), "ntime"},
		{"ntime number", submit(3, `1293623863`), "ntime"},
		{"nonce not hex", submit(4, `"10572b0g"`), "nonce"},
		{"nonce long", submit(4, `"10572b0f00"`), "nonce"},
		{"version bits short", strings.TrimSuffix(submit(-1, ""), "]") + `,"2000"]`, "version bits"},
		{"version bits null", strings.TrimSuffix(submit(-1, ""), "]") + `,null]`, "version bits"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := stratum.DecodeSubmit(params(t, c.params), 4)
			refused(t, err, c.what)
		})
	}
}

func TestDecodeSubscribeResultRefuses(t *testing.T) {
	for _, c := range []struct{ name, result, what string }{
		{"not an array", `{}`, "subscribe result"},
		{"two items", `[[], "00000000"]`, "want 3 params"},
		{"extranonce1 number", `[[], 0, 4]`, "extranonce1"},
		{"extranonce1 odd", `[[], "000", 4]`, "extranonce1"},
		{"size string", `[[], "00000000", "4"]`, "extranonce2 size"},
		{"size fraction", `[[], "00000000", 4.5]`, "extranonce2 size"},
		{"size zero", `[[], "00000000", 0]`, "extranonce2 size"},
		{"size huge", `[[], "00000000", 17]`, "extranonce2 size"},
		{"size null", `[[], "00000000", null]`, "extranonce2 size"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := stratum.DecodeSubscribeResult(json.RawMessage(c.result))
			refused(t, err, c.what)
		})
	}
}

// TestHeaderVersionRolling checks BIP 310: version bits inside the mask
// replace the job's, bits outside it are refused, and without a sixth param
// the job's version stands even when a mask was agreed.
func TestHeaderVersionRolling(t *testing.T) {
	job, err := stratum.DecodeNotify(params(t, notify(-1, "")))
	if err != nil {
		t.Fatal(err)
	}
	const mask = 0x1fffe000
	for _, c := range []struct {
		name    string
		params  string
		want    int32
		refused bool
	}{
		{"no rolling", submit(-1, ""), 0x20000000, false},
		{"inside mask", strings.TrimSuffix(submit(-1, ""), "]") + `,"0000e000"]`, 0x2000e000, false},
		{"all of mask", strings.TrimSuffix(submit(-1, ""), "]") + `,"1fffe000"]`, 0x3fffe000, false},
		{"outside mask", strings.TrimSuffix(submit(-1, ""), "]") + `,"20000000"]`, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := stratum.DecodeSubmit(params(t, c.params), 4)
			if err != nil {
				t.Fatal(err)
			}
			h, err := job.Header([]byte{1, 2, 3, 4}, &s, mask)
			if c.refused {
				refused(t, err, "outside the mask")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Version != c.want {
				t.Errorf("version %08x, want %08x", h.Version, c.want)
			}
		})
	}
}

func TestDifficultyTarget(t *testing.T) {
	diff1, _ := new(big.Int).SetString("00000000FFFF0000000000000000000000000000000000000000000000000000", 16)
	for _, c := range []struct {
		name, raw string
		want      *big.Int // nil: refused
	}{
		{"1", `1`, diff1},
		{"1000", `1000`, new(big.Int).Div(diff1, big.NewInt(1000))},
		{"0.5", `0.5`, new(big.Int).Lsh(diff1, 1)},
		{"string 2", `"2"`, new(big.Int).Rsh(diff1, 1)},
		{"exponent", `1e3`, new(big.Int).Div(diff1, big.NewInt(1000))},
		{"tiny", `2.3283064365386963e-10`, new(big.Int).Lsh(diff1, 32)}, // 2^-32
		{"huge", `1e70`, nil},
		{"too small", `1e-20`, nil},
		{"zero", `0`, nil},
		{"negative zero", `-0`, nil},
		{"negative", `-1`, nil},
		{"overflow", `1e400`, nil},
		{"string inf", `"Inf"`, nil},
		{"string nan", `"NaN"`, nil},
		{"string hex", `"0x10"`, nil},
		{"string space", `" 2"`, nil},
		{"empty string", `""`, nil},
		{"null", `null`, nil},
		{"bool", `true`, nil},
		{"array", `[1]`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := stratum.ParseDifficulty(json.RawMessage(c.raw))
			if err == nil {
				var target *big.Int
				target, err = stratum.DifficultyTarget(d)
				if err == nil {
					if c.want == nil {
						t.Fatalf("difficulty %s: target %x, want a refusal", c.raw, target)
					}
					if target.Cmp(c.want) != 0 {
						t.Errorf("difficulty %s: target %x, want %x", c.raw, target, c.want)
					}
					if back := chain.TargetDifficulty(target); back != d {
						t.Errorf("difficulty %s: target's difficulty %v", c.raw, back)
					}
					return
				}
			}
			if c.want != nil {
				t.Fatalf("difficulty %s: %v", c.raw, err)
			}
			if !errors.Is(err, stratum.ErrBadParams) {
				t.Errorf("difficulty %s: err %v, want one wrapping ErrBadParams", c.raw, err)
			}
		})
	}
}

// FuzzDecodeNotify checks that the notify decoder never panics on what a
// pool sends and that a job it accepts encodes to params it reads back to
// the same job.
func FuzzDecodeNotify(f *testing.F) {
	f.Add([]byte(notify(-1, "")))
	f.Add([]byte(notify(4, `[]`)))
	f.Add([]byte(notify(1, `"00"`)))
	fuzzRoundTrip(f, stratum.DecodeNotify, (*stratum.Job).NotifyParams)
}

// FuzzDecodeSubmit is FuzzDecodeNotify for the shares miners send.
func FuzzDecodeSubmit(f *testing.F) {
	f.Add([]byte(submit(-1, "")))
	f.Add([]byte(strings.TrimSuffix(submit(-1, ""), "]") + `,"1fffe000"]`))
	f.Add([]byte(submit(2, `null`)))
	decode := func(p []json.RawMessage) (stratum.Submit, error) { return stratum.DecodeSubmit(p, 4) }
	fuzzRoundTrip(f, decode, (*stratum.Submit).Params)
}

func fuzzRoundTrip[T any](f *testing.F, decode func([]json.RawMessage) (T, error), encode func(*T) []any) {
	f.Fuzz(func(t *testing.T, in []byte) {
		var p []json.RawMessage
		if json.Unmarshal(in, &p) != nil {
			return
		}
		v, err := decode(p)
		if err != nil {
			if !errors.Is(err, stratum.ErrBadParams) {
				t.Fatalf("err %v, want one wrapping ErrBadParams", err)
			}
			return
		}
		out, err := json.Marshal(encode(&v))
		if err != nil {
			t.Fatal(err)
		}
		back, err := decode(params(t, string(out)))
		if err != nil {
			t.Fatalf("%s decoded, re-encoded to %s, which is refused: %v", in, out, err)
		}
		if !reflect.DeepEqual(back, v) {
			t.Fatalf("%s decoded to %+v, re-encoded to %s, decoded to %+v", in, v, out, back)
		}
	})
}
