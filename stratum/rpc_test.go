package stratum_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/hashforge/hashforge/stratum"
)

// Lines as real miners send them (minerd 2.5.1, cgminer, bfgminer).
var minerLines = []string{
	`{"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5.1"]}`,
	`{"id": 1, "method": "mining.subscribe", "params": ["cgminer/4.12.1", "deadbeef"]}`,
	`{"id": 0, "method": "mining.subscribe", "params": []}` + "\r",
	`{"id": 2, "method": "mining.authorize", "params": ["0102030405060708090a0b0c0d0e0f1011121314.rig1", "x"]}`,
	`{"method": "mining.submit", "params": ["user", "b100000", "00000000", "4d1b2237", "10572b0f"], "id":4}`,
	`{"id": 3, "method": "mining.configure", "params": [["version-rolling"], {"version-rolling.mask": "1fffe000", "version-rolling.min-bit-count": 2}]}`,
	`{"id": 5, "method": "mining.extranonce.subscribe", "params": []}`,
	`{"id": 6, "method": "mining.suggest_difficulty", "params": [0.01]}`,
	`{"id": null, "method": "mining.ping"}`,
}

func TestDecodeRequest(t *testing.T) {
	for _, c := range []struct {
		name, line string
		id         string // the ID read, even from a refused line
		method     string
		params     int
		bad        bool
	}{
		{"subscribe", minerLines[0], "1", "mining.subscribe", 1, false},
		{"crlf", minerLines[2], "0", "mining.subscribe", 0, false},
		{"id last", minerLines[4], "4", "mining.submit", 5, false},
		{"string id", `{"id":"a","method":"m"}`, `"a"`, "m", 0, false},
		{"null params", `{"id":1,"method":"m","params":null}`, "1", "m", 0, false},
		{"no id", `{"method":"m","params":[]}`, "", "m", 0, false},
		{"not json", `GET / HTTP/1.1`, "", "", 0, true},
		{"array", `[1,2]`, "", "", 0, true},
		{"broken object", `{"id":1,"method":`, "", "", 0, true},
		{"no method", `{"id":7,"params":[]}`, "7", "", 0, true},
		{"null method", `{"id":7,"method":null}`, "7", "", 0, true},
		{"number method", `{"id":7,"method":5}`, "7", "", 0, true},
		{"empty method", `{"id":7,"method":""}`, "7", "", 0, true},
		{"object params", `{"id":7,"method":"m","params":{}}`, "7", "m", 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := stratum.DecodeRequest([]byte(c.line))
			if c.bad != (err != nil) {
				t.Fatalf("err %v, want refused %t", err, c.bad)
			}
			if err != nil && !errors.Is(err, stratum.ErrBadRequest) {
				t.Errorf("err %v does not wrap ErrBadRequest", err)
			}
			if string(req.ID) != c.id || (!c.bad && (req.Method != c.method || len(req.Params) != c.params)) {
				t.Errorf("request %s %q %d params, want %s %q %d", req.ID, req.Method, len(req.Params), c.id, c.method, c.params)
			}
		})
	}
}

// FuzzDecodeRequest checks that no line panics the decoder, every refusal
// wraps ErrBadRequest, and a request read encodes to a line read back the same.
func FuzzDecodeRequest(f *testing.F) {
	for _, l := range minerLines {
		f.Add([]byte(l))
	}
	f.Add([]byte(`{"id":1,"method":"m","params":{}}`))
	f.Add([]byte("\xff{"))
	f.Fuzz(func(t *testing.T, line []byte) {
		req, err := stratum.DecodeRequest(line)
		if err != nil {
			if !errors.Is(err, stratum.ErrBadRequest) {
				t.Fatalf("err %v does not wrap ErrBadRequest", err)
			}
			return
		}
		out, err := json.Marshal(map[string]any{"id": req.ID, "method": req.Method, "params": req.Params})
		if err != nil {
			t.Fatalf("%q decoded to %+v, which does not encode: %v", line, req, err)
		}
		back, err := stratum.DecodeRequest(out)
		if err != nil {
			t.Fatalf("%q re-encoded to %s, refused: %v", line, out, err)
		}
		if back.Method != req.Method || len(back.Params) != len(req.Params) || !sameRaw(back.ID, req.ID) {
			t.Fatalf("%q decoded to %+v, re-encoded to %s, decoded to %+v", line, req, out, back)
		}
		for i := range req.Params {
			if !sameRaw(back.Params[i], req.Params[i]) {
				t.Fatalf("param %d: %s, back %s", i, req.Params[i], back.Params[i])
			}
		}
	})
}

// sameRaw compares two JSON values by meaning, not spacing.
func sameRaw(a, b json.RawMessage) bool {
	var va, vb any
	if (a == nil) != (b == nil) {
		return false
	}
	if a == nil {
		return true
	}
	return json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil && reflect.DeepEqual(va, vb)
}
