package stratum

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// maxLine bounds one line a miner sends. The longest request of a real miner
// is a few hundred bytes (a submit, a configure with its options); 16 KiB
// leaves room for any dialect and keeps a hostile peer from making the
// server buffer without end.
const maxLine = 16 << 10

// ErrBadRequest is wrapped by every refusal of a line that is not a JSON-RPC
// request: the server answers it with an error and keeps the miner, unless
// the garbage goes on.
var ErrBadRequest = errors.New("stratum: bad request")

// errNotJSON marks a line that is not JSON at all (JSON-RPC's parse error),
// as against JSON that is no request.
var errNotJSON = errors.New("not a JSON object")

// Request is one JSON-RPC request of a miner, one line on the wire.
type Request struct {
	// ID is echoed in the response; nil when the miner sent none (a
	// notification) or the line had none to read, and then written as null.
	ID     json.RawMessage
	Method string
	Params []json.RawMessage
}

// DecodeRequest reads one line a miner sent, without its "\n" or "\r\n". The
// ID is set whenever the line had one, even when the rest is refused, so
// that the error response reaches the request it answers. Params may be
// absent or null (none), else they must be an array: Stratum is positional.
func DecodeRequest(line []byte) (Request, error) {
	var req Request
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return req, fmt.Errorf("%w: %w", ErrBadRequest, errNotJSON)
	}
	var raw struct {
		ID     json.RawMessage `json:"id"`
		Method json.RawMessage `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return req, fmt.Errorf("%w: %w: %v", ErrBadRequest, errNotJSON, err)
	}
	if !isNull(raw.ID) {
		req.ID = raw.ID
	}
	if isNull(raw.Method) {
		return req, fmt.Errorf("%w: no method", ErrBadRequest)
	}
	if err := json.Unmarshal(raw.Method, &req.Method); err != nil || req.Method == "" {
		return req, fmt.Errorf("%w: method %s: want a name", ErrBadRequest, raw.Method)
	}
	if !isNull(raw.Params) {
		if err := json.Unmarshal(raw.Params, &req.Params); err != nil {
			return req, fmt.Errorf("%w: params %.40s: want an array", ErrBadRequest, raw.Params)
		}
	}
	return req, nil
}

// isNull reports a value absent or JSON null: both mean "none" in JSON-RPC.
func isNull(raw json.RawMessage) bool { return raw == nil || string(raw) == "null" }

// Error codes of Stratum v1 (the first five are what pools have answered
// shares with since the first pools; miners log them by number), and of
// JSON-RPC for requests that are not Stratum at all.
const (
	codeOther          = 20
	codeJobNotFound    = 21 // unknown or stale job
	codeDuplicate      = 22
	codeLowDifficulty  = 23
	codeUnauthorized   = 24
	codeNotSubscribed  = 25
	codeParse          = -32700
	codeInvalidRequest = -32600
	codeMethodNotFound = -32601
)

// rpcError is an error answer. Stratum writes it as [code, "message", null]
// (the null is a traceback no pool fills in) rather than JSON-RPC 2.0's
// object: that is what every sha256d miner parses.
type rpcError struct {
	code    int
	message string
	// reason names the refusal in the server's counters: "stale",
	// "duplicate", ..., stable words an API can render.
	reason string
}

func (e *rpcError) Error() string { return fmt.Sprintf("%d: %s", e.code, e.message) }

func (e *rpcError) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{e.code, e.message, nil})
}

func refuse(code int, reason, format string, args ...any) *rpcError {
	return &rpcError{code: code, message: fmt.Sprintf(format, args...), reason: reason}
}

// response answers one request; exactly one of Result and Error is non-null.
type response struct {
	ID     json.RawMessage `json:"id"`
	Result any             `json:"result"`
	Error  *rpcError       `json:"error"`
}

// notification is a message the server sends unasked; its id is null.
type notification struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params []any           `json:"params"`
}
