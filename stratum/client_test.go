package stratum_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
	"github.com/hashforge/hashforge/miner"
	"github.com/hashforge/hashforge/stratum"
)

// The client is a miner's pool with no adapter.
var _ miner.Pool = (*stratum.Client)(nil)

const testAgent = "hashforge-test"

// easy is a share difficulty a test meets in about 256 hashes.
const easy = 1.0 / (1 << 24)

// startClient runs a client of pools as "user" with short waits until the
// test ends.
func startClient(t *testing.T, pools ...string) *stratum.Client {
	t.Helper()
	c, err := stratum.NewClient(stratum.ClientConfig{Pools: pools, User: "user", Pass: "x", UserAgent: testAgent},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimings(10*time.Millisecond, 100*time.Millisecond, 30*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

// nextJob waits for the client's next job, passing over the empty work
// that tells the miner a connection ended.
func nextJob(t *testing.T, c *stratum.Client) *stratum.PoolWork {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case j := <-c.Jobs():
			if _, _, ok := j.Work(0); ok {
				return j.(*stratum.PoolWork)
			}
		case <-timeout:
			t.Fatal("no job from the client")
			return nil
		}
	}
}

// waitStats waits until the client's stats satisfy ok.
func waitStats(t *testing.T, c *stratum.Client, what string, ok func(stratum.ClientStats) bool) stratum.ClientStats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := c.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats %+v", what, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The acceptance of the client: given block 100000's job from a pool over
// TCP, the client builds the header of the extranonce2 minerd used, a real
// CPU device searching near minerd's nonce finds that nonce, and the share
// on the wire is byte for byte minerd's mining.submit.
func TestClientVector(t *testing.T) {
	v := loadVector(t)
	pool := newScriptedPool(t, "127.0.0.1:0")
	c := startClient(t, pool.url())
	side := pool.accept()
	side.handshake(v, "", v.SetDifficulty, v.job.ID)

	var p miner.Pool = c
	job := (<-p.Jobs()).(*stratum.PoolWork)
	if job.VersionMask != 0 || job.Difficulty != 1000 || !job.Clean || job.Job.ID != v.job.ID {
		t.Errorf("job: mask %x, difficulty %v, clean %t, id %q", job.VersionMask, job.Difficulty, job.Clean, job.Job.ID)
	}
	en2, _, ok := job.Roll(0)
	if !ok || hex.EncodeToString(en2) != "00000000" {
		t.Fatalf("roll 0 has extranonce2 %x, want minerd's 00000000", en2)
	}
	h, target, ok := job.Work(0)
	if !ok {
		t.Fatal("no roll 0")
	}
	want := hexOf(t, v.HeaderHex)
	b := h.Bytes()
	if hex.EncodeToString(b[:76]) != hex.EncodeToString(want[:76]) || h.Nonce != 0 {
		t.Fatalf("header of roll 0\n%x, want block 100000's with nonce 0\n%x", b, want)
	}
	exact, _ := stratum.DifficultyTarget(1000)
	if target != chain.BigToHash(exact) {
		t.Errorf("share target %x, want difficulty 1000's %x", chain.HashToBig(target), exact)
	}

	const nonce = 0x10572b0f
	log := slog.New(slog.DiscardHandler)
	devs, err := hasher.OpenAll(cpu.New(1))
	if err != nil {
		t.Fatal(err)
	}
	var hits []uint32
	err = hasher.NewScheduler(devs, log).SearchRange(context.Background(), hasher.Work{Header: b, Target: target},
		nonce-5000, 10000, func(hit hasher.Hit) { hits = append(hits, hit.Nonce) })
	if err != nil || len(hits) != 1 || hits[0] != nonce {
		t.Fatalf("search near minerd's nonce found %x (%v), want only %x", hits, err, nonce)
	}
	h.Nonce = hits[0]
	job.Share(0, h)
	m := side.expect("mining.submit")
	minerd, _ := json.Marshal(v.SubmitFromMinerd)
	if string(m.Params) != string(minerd) {
		t.Errorf("submit params on the wire\n%s, want minerd's\n%s", m.Params, minerd)
	}
	side.answer(m.ID, true, nil)
	waitStats(t, c, "share accepted", func(s stratum.ClientStats) bool { return s.SharesAccepted == 1 })

	// The same share again: the pool calls it a duplicate.
	job.Share(0, h)
	m = side.expect("mining.submit")
	side.answer(m.ID, false, []any{22, "Duplicate share", nil})
	s := waitStats(t, c, "share rejected", func(s stratum.ClientStats) bool { return s.SharesRejected == 1 })
	if s.RejectedBy[stratum.ReasonDuplicate] != 1 || s.SharesAccepted != 1 {
		t.Errorf("after a duplicate: %+v", s)
	}
	if !s.Connected || s.URL != pool.url() || s.Difficulty != 1000 || s.LatencyAvgMS <= 0 || s.ConnectedSince.IsZero() {
		t.Errorf("stats of a connected client: %+v", s)
	}
	out, err := json.Marshal(s)
	if err != nil || !strings.Contains(string(out), `"rejected_by_reason":{"duplicate":1}`) || !strings.Contains(string(out), `"shares_accepted":1`) {
		t.Errorf("stats as JSON: %s (%v)", out, err)
	}
}

// The pool's messages after the handshake: a garbage line is skipped, a
// difficulty holds for the jobs after it, get_version is answered, a new
// extranonce reissues the job clean and makes earlier work stale, version
// rolling varies the granted bits, a line over 16 KiB drops the connection
// (and the client comes back), and client.reconnect moves it.
func TestClientPoolMessages(t *testing.T) {
	v := loadVector(t)
	pool := newScriptedPool(t, "127.0.0.1:0")
	c := startClient(t, pool.url())
	side := pool.accept()
	side.handshake(v, "1fffe000", easy, "j1")
	j1 := nextJob(t, c)
	if j1.VersionMask != 0x1fffe000 {
		t.Fatalf("version mask %x, want the granted 1fffe000", j1.VersionMask)
	}
	// Roll 1 flips the mask's lowest bit of the version; the extranonce2
	// moves only after 2^16 rolls.
	h0, _, _ := j1.Work(0)
	h1, _, _ := j1.Work(1)
	en2, vbits, _ := j1.Roll(1 << 16)
	if h0.Version != int32(v.job.Version) || h1.Version != int32(v.job.Version)^0x2000 || h0.MerkleRoot != h1.MerkleRoot ||
		hex.EncodeToString(en2) != "00000001" || vbits != v.job.Version&0x1fffe000 {
		t.Errorf("rolls: versions %x %x, roll 2^16 extranonce2 %x bits %x", h0.Version, h1.Version, en2, vbits)
	}

	side.sendRaw("this is no JSON\n")
	side.sendRaw(`{"id":9,"method":"mining.notify","params":["short"]}` + "\n")
	side.notification("mining.set_difficulty", 2*easy)
	side.notify(v, "j2", false)
	j2 := nextJob(t, c)
	want, _ := stratum.DifficultyTarget(2 * easy)
	if j2.Job.ID != "j2" || j2.Difficulty != 2*easy || j2.Target != chain.BigToHash(want) || j2.Clean {
		t.Errorf("job after set_difficulty 2*easy: id %q, difficulty %v, clean %t", j2.Job.ID, j2.Difficulty, j2.Clean)
	}
	side.send(map[string]any{"id": 7, "method": "client.get_version", "params": []any{}})
	if m := side.recv(); string(m.ID) != "7" || string(m.Result) != `"`+testAgent+`"` {
		t.Errorf("answer to get_version: %s", m.raw)
	}
	side.notification("client.show_message", "maintenance at noon")

	side.notification("mining.set_extranonce", "abcd", 2)
	j3 := nextJob(t, c)
	if hex.EncodeToString(j3.Extranonce1) != "abcd" || j3.Extranonce2Size != 2 || !j3.Clean || j3.Job.ID != "j2" {
		t.Errorf("job after set_extranonce: %x, size %d, clean %t, id %q", j3.Extranonce1, j3.Extranonce2Size, j3.Clean, j3.Job.ID)
	}
	if en2, _, _ := j3.Roll(1 << 16); hex.EncodeToString(en2) != "0001" {
		t.Errorf("extranonce2 of size 2: %x", en2)
	}
	if _, _, ok := j3.Roll(1 << 32); ok {
		t.Error("a roll past the 2-byte extranonce2")
	}
	// A share of j2, found after the new extranonce: stale, not sent.
	h, target, _ := j2.Work(0)
	for !meets(h, target) {
		h.Nonce++
	}
	j2.Share(0, h)
	waitStats(t, c, "stale share", func(s stratum.ClientStats) bool { return s.SharesStale == 1 })
	// One of j3 goes out, with its version bits.
	h, target, _ = j3.Work(3)
	for !meets(h, target) {
		h.Nonce++
	}
	j3.Share(3, h)
	m := side.expect("mining.submit")
	var params []any
	json.Unmarshal(m.Params, &params)
	if len(params) != 6 || params[2] != "0000" || params[5] != "00006000" {
		t.Errorf("submit with version rolling: %s", m.Params)
	}
	side.answer(m.ID, nil, []any{23, "Low difficulty share", nil})
	s := waitStats(t, c, "low difficulty", func(s stratum.ClientStats) bool { return s.SharesRejected == 1 })
	if s.RejectedBy[stratum.ReasonLowDifficulty] != 1 || s.SharesStale != 1 {
		t.Errorf("stats: %+v", s)
	}

	// A line over 16 KiB: the client drops the connection and comes back.
	side.sendRaw(`{"id":null,"method":"client.show_message","params":["` + strings.Repeat("a", 17<<10) + "\"]}\n")
	side = pool.accept()
	side.handshake(v, "", easy, "j4")
	if j := nextJob(t, c); j.Job.ID != "j4" {
		t.Errorf("job %q after the reconnect, want j4", j.Job.ID)
	}

	// client.reconnect to another pool, then to the same one.
	other := newScriptedPool(t, "127.0.0.1:0")
	_, port, _ := net.SplitHostPort(other.addr)
	side.notification("client.reconnect", "127.0.0.1", port, 0)
	side = other.accept()
	side.handshake(v, "", easy, "j5")
	if j := nextJob(t, c); j.Job.ID != "j5" {
		t.Errorf("job %q after client.reconnect, want j5", j.Job.ID)
	}
	side.notification("client.reconnect")
	side = other.accept()
	side.handshake(v, "", easy, "j6")
	if j := nextJob(t, c); j.Job.ID != "j6" {
		t.Errorf("job %q after client.reconnect to the same pool, want j6", j.Job.ID)
	}
}

// meets reports whether h hashes under the little-endian target.
func meets(h chain.Header, target chain.Hash) bool {
	return chain.HashToBig(h.Hash()).Cmp(chain.HashToBig(target)) <= 0
}

// Failover: when the first pool goes down the client moves to the second;
// when the first answers again the client goes back to it.
func TestClientFailover(t *testing.T) {
	v := loadVector(t)
	first := newScriptedPool(t, "127.0.0.1:0")
	second := newScriptedPool(t, "127.0.0.1:0")
	c := startClient(t, first.url(), second.url())
	side := first.accept()
	side.handshake(v, "", easy, "a1")
	old := nextJob(t, c)
	if old.Job.ID != "a1" {
		t.Fatalf("job %q, want a1", old.Job.ID)
	}

	first.close()
	// The miner is told to idle until the next pool's job.
	select {
	case j := <-c.Jobs():
		if _, _, ok := j.Work(0); ok {
			t.Error("work to hash after the pool went down")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the miner not told that the pool went down")
	}
	side = second.accept()
	side.handshake(v, "", easy, "b1")
	if j := nextJob(t, c); j.Job.ID != "b1" {
		t.Fatalf("job %q on the second pool, want b1", j.Job.ID)
	}
	s := waitStats(t, c, "on the second pool", func(s stratum.ClientStats) bool { return s.Connected })
	if s.URL != second.url() || s.Switches != 1 {
		t.Errorf("on the second pool: %+v", s)
	}
	// A share of the first pool's job is stale now.
	old.Share(0, mined(old))
	waitStats(t, c, "stale share of the lost pool", func(s stratum.ClientStats) bool { return s.SharesStale == 1 })

	back := newScriptedPool(t, first.addr)
	back.accept().answerProbe(v)
	side = back.accept()
	side.handshake(v, "", easy, "a2")
	if j := nextJob(t, c); j.Job.ID != "a2" {
		t.Fatalf("job %q back on the first pool, want a2", j.Job.ID)
	}
	s = waitStats(t, c, "back on the first pool", func(s stratum.ClientStats) bool { return s.Connected })
	if s.URL != first.url() || s.Switches != 2 {
		t.Errorf("back on the first pool: %+v", s)
	}
}

// mined returns roll 0 of w with a nonce under its target.
func mined(w *stratum.PoolWork) chain.Header {
	h, target, _ := w.Work(0)
	for !meets(h, target) {
		h.Nonce++
	}
	return h
}

// Pool URLs and the user are checked before anything connects.
func TestNewClientRefuses(t *testing.T) {
	for _, tt := range []struct {
		pools []string
		user  string
		want  string
	}{
		{nil, "u", "no pool"},
		{[]string{"http://pool:3333"}, "u", "scheme"},
		{[]string{"pool:3333"}, "u", "scheme"},
		{[]string{"stratum+tcp://pool"}, "u", "HOST:PORT"},
		{[]string{"stratum+tcp://:3333"}, "u", "HOST:PORT"},
		{[]string{"stratum+tcp://pool:0"}, "u", "port"},
		{[]string{"stratum+tcp://pool:70000"}, "u", "port"},
		{[]string{"stratum+tcp://pool:3333/path"}, "u", "nothing after the port"},
		{[]string{"stratum+tcp://pool:3333", "tcp://backup"}, "u", "HOST:PORT"},
		{[]string{"stratum+tcp://pool:3333"}, "", "no user"},
	} {
		_, err := stratum.NewClient(stratum.ClientConfig{Pools: tt.pools, User: tt.user}, slog.New(slog.DiscardHandler))
		if !errors.Is(err, stratum.ErrClientConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v user %q: %v, want an error saying %q", tt.pools, tt.user, err, tt.want)
		}
	}
	for _, ok := range []string{"stratum+tcp://pool.example:3333", "tcp://10.0.0.1:3333", "stratum+tcp://[::1]:3333/"} {
		if _, err := stratum.NewClient(stratum.ClientConfig{Pools: []string{ok}, User: "u"}, slog.New(slog.DiscardHandler)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// Pools word their refusals freely; each comes out as one short reason.
func TestRejectReason(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{`[21, "Job not found (=stale)", null]`, stratum.ReasonJobNotFound},
		{`[22, "Duplicate share", null]`, stratum.ReasonDuplicate},
		{`[23, "Low difficulty share", null]`, stratum.ReasonLowDifficulty},
		{`{"code": -1, "message": "high-hash"}`, stratum.ReasonLowDifficulty},
		{`"stale-prevblk"`, stratum.ReasonStale},
		{`[21, "", null]`, stratum.ReasonJobNotFound},
		{`[20, "Other/Unknown", null]`, stratum.ReasonOther},
		{`[24, "Unauthorized worker", null]`, stratum.ReasonOther},
	} {
		err := stratum.DecodeRPCError([]byte(tt.raw))
		if got := stratum.RejectReason(err); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.raw, got, tt.want)
		}
	}
	for _, none := range []string{``, `null`, `false`} {
		if err := stratum.DecodeRPCError([]byte(none)); err != nil {
			t.Errorf("%q is no error, have %v", none, err)
		}
	}
}

// A pool that sends no job for the silence time is dead: the client drops
// it and connects again.
func TestClientSilentPool(t *testing.T) {
	v := loadVector(t)
	pool := newScriptedPool(t, "127.0.0.1:0")
	c, err := stratum.NewClient(stratum.ClientConfig{Pools: []string{pool.url()}, User: "user"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimings(10*time.Millisecond, time.Minute, 300*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	side := pool.accept()
	side.handshake(v, "", easy, "s1")
	nextJob(t, c)
	began := time.Now()
	// Answers and messages are no jobs: the pool still counts as silent.
	side.notification("client.show_message", "still here")
	side = pool.accept()
	if d := time.Since(began); d < 250*time.Millisecond {
		t.Errorf("dropped after %v of silence, want 300 ms", d)
	}
	side.handshake(v, "", easy, "s2")
	if j := nextJob(t, c); j.Job.ID != "s2" {
		t.Errorf("job %q, want s2", j.Job.ID)
	}
}

// A node's devices mine for a pool: a Miner with a real CPU device and the
// client as its pool sends shares that the pool, rebuilding each header
// from the submit with the codec, finds under the share target, with
// version rolling granted; a clean job moves the shares to it.
func TestClientMinerShares(t *testing.T) {
	v := loadVector(t)
	pool := newScriptedPool(t, "127.0.0.1:0")
	c := startClient(t, pool.url())
	side := pool.accept()
	// One share in 2^14 hashes: a few hundred a second, which the test
	// reads as fast as they come.
	const diff = 64 * easy
	side.handshake(v, "1fffe000", diff, "m1")

	log := slog.New(slog.DiscardHandler)
	devs, err := hasher.OpenAll(cpu.New(1))
	if err != nil {
		t.Fatal(err)
	}
	m := miner.New(nil, nil, hasher.NewScheduler(devs, log), miner.Config{Pool: c}, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	target, _ := stratum.DifficultyTarget(diff)
	jobs := map[string]stratum.Job{}
	for _, id := range []string{"m1", "m2"} {
		j := v.job
		j.ID = id
		jobs[id] = j
	}
	en1 := v.extranonce1
	check := func(want string, n int) {
		t.Helper()
		for i := 0; i < n; {
			msg := side.expect("mining.submit")
			var params []json.RawMessage
			json.Unmarshal(msg.Params, &params)
			sub, err := stratum.DecodeSubmit(params, v.extranonce2Size)
			if err != nil {
				t.Fatal(err)
			}
			side.answer(msg.ID, true, nil)
			job, ok := jobs[sub.JobID]
			if !ok || !sub.HasVersionBits {
				t.Fatalf("submit %s", msg.Params)
			}
			h, err := job.Header(en1, &sub, 0x1fffe000)
			if err != nil {
				t.Fatal(err)
			}
			if chain.HashToBig(h.Hash()).Cmp(target) > 0 {
				t.Fatalf("share %s of job %s is above the share target", h.Hash(), sub.JobID)
			}
			if sub.JobID == want {
				i++
			}
		}
	}
	check("m1", 20)
	side.notify(v, "m2", true)
	check("m2", 20)
	// Once the clean job is out, the old job's shares are stale or gone:
	// the next shares on the wire are all of m2.
	for range 20 {
		msg := side.expect("mining.submit")
		side.answer(msg.ID, true, nil)
		if !strings.Contains(string(msg.Params), `"m2"`) {
			t.Errorf("a share of the old job after the clean one: %s", msg.Params)
		}
	}
	s := waitStats(t, c, "accepted shares", func(s stratum.ClientStats) bool { return s.SharesAccepted >= 60 })
	if s.SharesRejected != 0 {
		t.Errorf("stats: %+v", s)
	}
}

// FuzzClientLine feeds a session the lines a pool might send: none may
// panic, whatever the pool.
func FuzzClientLine(f *testing.F) {
	raw, err := os.ReadFile("testdata/stratum-job-block100000.json")
	if err != nil {
		f.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(raw, &v); err != nil {
		f.Fatal(err)
	}
	notify, _ := json.Marshal(map[string]any{"id": nil, "method": "mining.notify", "params": v.NotifyParams})
	for _, seed := range []string{
		string(notify),
		`{"id":null,"method":"mining.set_difficulty","params":[0.001]}`,
		`{"id":null,"method":"mining.set_difficulty","params":["1e-300"]}`,
		`{"id":null,"method":"mining.set_extranonce","params":["abcd",2]}`,
		`{"id":null,"method":"mining.set_version_mask","params":["00ffe000"]}`,
		`{"id":3,"method":"client.get_version","params":[]}`,
		`{"id":null,"method":"client.reconnect","params":["host",3333,5]}`,
		`{"id":null,"method":"client.show_message","params":["hi"]}`,
		`{"id":1,"result":true,"error":null}`,
		`{"id":2,"result":null,"error":[23,"Low difficulty",null]}`,
		`{"id":"x","method":"mining.ping"}`,
		`garbage`,
	} {
		f.Add([]byte(seed))
	}
	handle := stratum.LineHandler()
	f.Fuzz(func(t *testing.T, line []byte) { handle(line) })
}
