package stratum

// The pool's requests and notifications to the client.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashforge/hashforge/chain"
)

// request acts on a request or notification of the pool.
func (s *clientSession) request(m *clientMsg) error {
	switch m.Method {
	case "mining.notify":
		return s.notify(m.Params)
	case "mining.set_difficulty":
		if len(m.Params) < 1 {
			return badParam("mining.set_difficulty", "no difficulty")
		}
		d, err := ParseDifficulty(m.Params[0])
		if err != nil {
			return err
		}
		if _, err := DifficultyTarget(d); err != nil {
			return err
		}
		// The difficulty holds for the jobs that follow, as minerd takes it.
		s.mu.Lock()
		s.diff = d
		s.mu.Unlock()
		s.c.update(func(st *ClientStats) { st.Difficulty = d })
	case "mining.set_extranonce":
		return s.setExtranonce(m.Params)
	case "mining.set_version_mask":
		if len(m.Params) < 1 {
			return badParam("mining.set_version_mask", "no mask")
		}
		v, err := paramUint32(m.Params[0], "version mask")
		if err != nil {
			return err
		}
		s.mu.Lock()
		if s.mask != 0 { // only a client that negotiated rolling rolls
			s.mask = v & clientVersionMask
			v = s.mask
		}
		s.mu.Unlock()
		s.c.update(func(st *ClientStats) { st.VersionMask = v })
	case "client.reconnect":
		return s.reconnect(m.Params)
	case "client.show_message":
		var text string
		if len(m.Params) > 0 {
			text, _ = paramString(m.Params[0], "message")
		}
		s.c.log.Info("pool message", "pool", s.url, "message", text)
		s.reply(m.ID, true, nil)
	case "client.get_version":
		s.reply(m.ID, s.c.cfg.UserAgent, nil)
	case "mining.ping":
		s.reply(m.ID, "pong", nil)
	default:
		s.reply(m.ID, nil, []any{20, "unknown method " + m.Method, nil})
		return fmt.Errorf("unknown method")
	}
	return nil
}

// notify makes a job of mining.notify; the miner has it once the pool has
// authorized the worker.
func (s *clientSession) notify(params []json.RawMessage) error {
	job, err := DecodeNotify(params)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.en1 == nil {
		s.mu.Unlock()
		return errors.New("a job before the subscribe result")
	}
	w := s.newWork(job, job.Clean)
	s.lastJob = time.Now()
	authed := s.authed
	s.mu.Unlock()
	if authed {
		s.c.publish(w)
	}
	return nil
}

// newWork makes job the session's latest, with the extranonces, difficulty
// and mask in force; s.mu is held.
func (s *clientSession) newWork(job Job, clean bool) *PoolWork {
	target, _ := DifficultyTarget(s.diff) // refused when it was set
	s.seq++
	w := &PoolWork{Job: job, Extranonce1: s.en1, Extranonce2Size: s.en2Size, Difficulty: s.diff,
		Target: chain.BigToHash(target), VersionMask: s.mask, Clean: clean, sess: s, seq: s.seq}
	if clean {
		s.cleanSeq = s.seq
	}
	s.job = w
	return w
}

// setExtranonce takes the new extranonces of mining.set_extranonce [en1,
// en2 size]. Shares of the old ones would stand for another coinbase than
// the pool builds, so the latest job goes out again with the new ones, clean.
func (s *clientSession) setExtranonce(params []json.RawMessage) error {
	if err := checkCount("mining.set_extranonce", params, 2, 2); err != nil {
		return err
	}
	// The subscribe result ends with the same two params.
	raw := append(append(append([]byte("[null,"), params[0]...), ','), params[1]...)
	en1, size, err := DecodeSubscribeResult(append(raw, ']'))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.en1, s.en2Size = en1, size
	var w *PoolWork
	if s.job != nil {
		w = s.newWork(s.job.Job, true)
	}
	authed := s.authed
	s.mu.Unlock()
	s.c.log.Info("pool changed the extranonce", "pool", s.url, "extranonce1", fmt.Sprintf("%x", en1), "extranonce2_size", size)
	if w != nil && authed {
		s.c.publish(w)
	}
	return nil
}

// reconnect ends the session for client.reconnect [host, port, wait]: each
// param may be missing or empty, meaning the same host, the same port, now.
func (s *clientSession) reconnect(params []json.RawMessage) error {
	host, port, err := net.SplitHostPort(s.conn.RemoteAddr().String())
	if err != nil {
		return err
	}
	var wait time.Duration
	for i, p := range params {
		var v any
		if json.Unmarshal(p, &v) != nil {
			return badParam("client.reconnect", "param %d: %s", i, p)
		}
		var text string
		switch v := v.(type) {
		case string:
			text = v
		case float64:
			text = strconv.FormatFloat(v, 'f', -1, 64)
		case nil:
		default:
			return badParam("client.reconnect", "param %d: %s", i, p)
		}
		if text == "" {
			continue
		}
		switch i {
		case 0:
			host = text
		case 1:
			if n, err := strconv.ParseUint(text, 10, 16); err != nil || n == 0 {
				return badParam("client.reconnect", "port %q", text)
			}
			port = text
		case 2:
			secs, err := strconv.ParseFloat(text, 64)
			if err != nil || secs < 0 {
				return badParam("client.reconnect", "wait %q", text)
			}
			wait = min(time.Duration(secs*float64(time.Second)), maxReconnectWait)
		}
	}
	s.stop(&errReconnect{addr: net.JoinHostPort(host, port), wait: wait})
	return nil
}
