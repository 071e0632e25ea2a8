package stratum

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrBadParams is wrapped by every refusal of a message's params, so a server
// can answer a malformed request with an error instead of dropping the miner,
// and a client can tell a broken pool from a broken connection.
var ErrBadParams = errors.New("stratum: bad params")

// badParam reports what is wrong with one named param.
func badParam(name, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrBadParams, name, fmt.Sprintf(format, args...))
}

// checkCount refuses a count of params outside [lo, hi]: Stratum messages are
// positional, so a missing or extra param means the peer speaks another dialect.
func checkCount(method string, params []json.RawMessage, lo, hi int) error {
	if n := len(params); n < lo || n > hi {
		if lo == hi {
			return badParam(method, "want %d params, have %d", lo, n)
		}
		return badParam(method, "want %d to %d params, have %d", lo, hi, n)
	}
	return nil
}

// decodeValue decodes raw into a generic value, so that a JSON null, which
// encoding/json would silently accept into a string or bool, is refused by the
// type check of the caller.
func decodeValue(raw json.RawMessage, name string) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, badParam(name, "%v", err)
	}
	return v, nil
}

func paramString(raw json.RawMessage, name string) (string, error) {
	v, err := decodeValue(raw, name)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", badParam(name, "want a string, have %s", raw)
	}
	return s, nil
}

func paramBool(raw json.RawMessage, name string) (bool, error) {
	v, err := decodeValue(raw, name)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, badParam(name, "want true or false, have %s", raw)
	}
	return b, nil
}

// hexBytes decodes s as hex of exactly size bytes, or of any length when size
// is negative.
func hexBytes(s, name string, size int) ([]byte, error) {
	if size >= 0 && len(s) != 2*size {
		return nil, badParam(name, "want %d hex digits, have %d", 2*size, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, badParam(name, "%v", err)
	}
	return b, nil
}

func paramHex(raw json.RawMessage, name string, size int) ([]byte, error) {
	s, err := paramString(raw, name)
	if err != nil {
		return nil, err
	}
	return hexBytes(s, name, size)
}

// paramUint32 reads the 8 hex digits Stratum uses for version, nbits, ntime
// and nonce: the number written big-endian, as a person would write it, which
// is the reverse of the little-endian bytes the header holds.
func paramUint32(raw json.RawMessage, name string) (uint32, error) {
	b, err := paramHex(raw, name, 4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

// hexUint32 writes v as paramUint32 reads it.
func hexUint32(v uint32) string {
	return hex.EncodeToString(binary.BigEndian.AppendUint32(nil, v))
}
