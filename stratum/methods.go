package stratum

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// optString returns params[i] when it is a string: the optional params of
// subscribe and authorize are sent as strings, nulls or not at all,
// depending on the miner.
func optString(params []json.RawMessage, i int) string {
	var s string
	if i < len(params) && json.Unmarshal(params[i], &s) == nil {
		return s
	}
	return ""
}

// subscribe answers mining.subscribe [user agent, session id]: the
// subscriptions, the connection's extranonce1 and the extranonce2 size. A
// session id the server still keeps from a closed connection gets its
// extranonce1 back, so a reconnecting miner's work stays its own.
func (c *session) subscribe(params []json.RawMessage) (any, *rpcError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.extranonce1 == nil {
		c.extranonce1 = c.srv.extranonce1(optString(params, 1))
		c.agent = optString(params, 0)
	}
	id := sessionID(c.extranonce1)
	subs := []any{[]any{"mining.set_difficulty", id}, []any{"mining.notify", id}}
	return []any{subs, hex.EncodeToString(c.extranonce1), extranonce2Size}, nil
}

// authorize answers mining.authorize [user, password]. The user is the
// payout address, then optionally a dot and a worker name; the password may
// fix the share difficulty with d=N (among options separated by commas). A
// connection pays one address: more users of the same address may
// authorise, as cgminer does for several devices.
func (c *session) authorize(params []json.RawMessage) (any, *rpcError) {
	if len(params) == 0 {
		return nil, refuse(codeOther, "", "mining.authorize: want a user")
	}
	user, err := paramString(params[0], "user")
	if err != nil {
		return nil, refuse(codeOther, "", "%v", err)
	}
	text, worker, _ := strings.Cut(user, ".")
	addr, err := chain.ParseAddress(text)
	if err != nil {
		return nil, refuse(codeUnauthorized, "", "unauthorized worker %.64q: the user must be ADDRESS[.WORKER], the address 40 hex digits", user)
	}
	fixed, err := passwordDifficulty(optString(params, 1))
	if err != nil {
		return nil, refuse(codeOther, "", "password: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.authorised && addr != c.address {
		return nil, refuse(codeUnauthorized, "", "unauthorized worker %.64q: this connection pays %s", user, c.address)
	}
	if !c.authorised {
		c.authorised, c.address, c.worker = true, addr, worker
		c.srv.log.Info("stratum worker", "address", addr, "worker", worker, "remote", c.conn.RemoteAddr().String(), "agent", c.agent)
	}
	c.users[user] = true
	if fixed > 0 {
		c.vd.set(fixed, true, time.Now())
		c.diffChanged = true
	}
	return true, nil
}

// passwordDifficulty reads d=N from a password, 0 when it has none.
func passwordDifficulty(password string) (float64, error) {
	for _, opt := range strings.FieldsFunc(password, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		if v, ok := strings.CutPrefix(opt, "d="); ok {
			return ParseDifficulty(json.RawMessage(v))
		}
	}
	return 0, nil
}

// configure answers mining.configure [extensions, options] of BIP 310.
// Version rolling gets the bits both the miner's mask and ours allow, or
// false when they are fewer than the miner's least; every other extension
// is answered false, which BIP 310 defines as not supported.
func (c *session) configure(params []json.RawMessage) (any, *rpcError) {
	if len(params) == 0 {
		return nil, refuse(codeOther, "", "mining.configure: want extensions")
	}
	var exts []string
	if err := json.Unmarshal(params[0], &exts); err != nil {
		return nil, refuse(codeOther, "", "mining.configure: extensions: want an array of names")
	}
	var opts map[string]json.RawMessage
	if len(params) > 1 && !isNull(params[1]) {
		if err := json.Unmarshal(params[1], &opts); err != nil {
			return nil, refuse(codeOther, "", "mining.configure: options: want an object")
		}
	}
	result := map[string]any{}
	for _, ext := range exts {
		if ext != "version-rolling" {
			result[ext] = false
			continue
		}
		mask, err := c.versionMask(opts)
		if err != nil {
			return nil, refuse(codeOther, "", "mining.configure: %v", err)
		}
		result[ext] = mask != 0
		if mask != 0 {
			result["version-rolling.mask"] = hexUint32(mask)
		}
	}
	return result, nil
}

// versionMask agrees the version bits the miner may roll: ours within the
// mask it asks for (all bits when it names none), none when fewer than
// its min-bit-count.
func (c *session) versionMask(opts map[string]json.RawMessage) (uint32, error) {
	theirs := ^uint32(0)
	if raw, ok := opts["version-rolling.mask"]; ok {
		s, err := paramString(raw, "version-rolling.mask")
		if err != nil {
			return 0, err
		}
		v, err := strconv.ParseUint(s, 16, 32)
		if err != nil {
			return 0, fmt.Errorf("version-rolling.mask %.16q: want hex", s)
		}
		theirs = uint32(v)
	}
	var least int
	if raw, ok := opts["version-rolling.min-bit-count"]; ok {
		if err := json.Unmarshal(raw, &least); err != nil {
			return 0, fmt.Errorf("version-rolling.min-bit-count %.16s: want an integer", raw)
		}
	}
	mask := theirs & c.srv.cfg.VersionMask
	if bits.OnesCount32(mask) < least {
		mask = 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mask = mask
	return mask, nil
}

// suggestDifficulty answers mining.suggest_difficulty [d]: vardiff starts
// from d, within the server's bounds, unless the password fixed one.
func (c *session) suggestDifficulty(params []json.RawMessage) (any, *rpcError) {
	if len(params) == 0 {
		return nil, refuse(codeOther, "", "mining.suggest_difficulty: want a difficulty")
	}
	d, err := ParseDifficulty(params[0])
	if err != nil {
		return nil, refuse(codeOther, "", "%v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.vd.fixed {
		c.vd.set(d, false, time.Now())
		c.diffChanged = true
	}
	return true, nil
}
