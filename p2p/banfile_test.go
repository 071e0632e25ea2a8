package p2p

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The operator's bans outlive the server: a new one on the same file holds
// them, an Unban is kept too, expired bans are dropped, and a file that is
// not bans refuses the start with an error naming it.
func TestBansKept(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cfg := quietConfig()
	cfg.BanFile = filepath.Join(t.TempDir(), BanFileName)
	cfg.Clock = func() time.Time { return now }
	start := func() *Server {
		s := drivenWith(t, newChain(t), cfg).Server
		if err := s.LoadBans(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	hosts := func(s *Server) string {
		var out []string
		for _, b := range s.Banned() {
			out = append(out, b.Kind+" "+b.Addr+" "+b.Until.UTC().Format(time.RFC3339))
		}
		return strings.Join(out, ", ")
	}

	s := start()
	if got := hosts(s); got != "" {
		t.Fatalf("no file, yet banned: %s", got)
	}
	for _, host := range []string{"192.0.2.7:8999", "2001:db8::1"} {
		if _, err := s.Ban(host, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	want := "banned 192.0.2.7 2027-01-15T09:00:00Z, banned 2001:db8::1 2027-01-15T09:00:00Z"
	if got := hosts(start()); got != want {
		t.Fatalf("after a restart: %s, want %s", got, want)
	}
	if err := s.Unban("192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	if got, want := hosts(start()), "banned 2001:db8::1 2027-01-15T09:00:00Z"; got != want {
		t.Fatalf("after an unban and a restart: %s, want %s", got, want)
	}
	now = now.Add(2 * time.Hour)
	if got := hosts(start()); got != "" {
		t.Fatalf("an expired ban came back: %s", got)
	}

	for _, bad := range []string{`{"addr":`, `[{"addr":"example.com","kind":"banned"}]`, `[{"addr":"192.0.2.7","kind":"discouraged"}]`} {
		if err := os.WriteFile(cfg.BanFile, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		s := drivenWith(t, newChain(t), cfg).Server
		if err := s.LoadBans(); err == nil || !strings.Contains(err.Error(), cfg.BanFile) {
			t.Errorf("%s: %v, want an error naming the file", bad, err)
		}
		if got := hosts(s); got != "" {
			t.Errorf("%s: took %s", bad, got)
		}
	}
}
