package p2p

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/hashforge/hashforge/internal/atomicfile"
)

// The operator's bans outlive a restart, as bitcoind's banlist.json does:
// Config.BanFile holds them, replaced whole on every Ban and Unban.
// Discouragements are the peer layer's own judgement and are not kept.

// BanFileName is the file in a node's datadir that keeps the operator's bans.
const BanFileName = "bans.json"

// LoadBans takes the operator's bans from Config.BanFile, those not yet
// expired; a missing file is no bans. A file that does not read as bans is
// an error that names it, and nothing of it is taken.
func (s *Server) LoadBans() error {
	if s.cfg.BanFile == "" {
		return nil
	}
	b, err := os.ReadFile(s.cfg.BanFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read bans: %w", err)
	}
	var bans []BanInfo
	if err := json.Unmarshal(b, &bans); err != nil {
		return fmt.Errorf("bans file %s: %w (remove it to start without the bans it held)", s.cfg.BanFile, err)
	}
	for _, ban := range bans {
		if ip := net.ParseIP(ban.Addr); ban.Kind != KindBanned || ip == nil || ip.String() != ban.Addr {
			return fmt.Errorf("bans file %s: %q is not a banned IP address (remove the file to start without the bans it held)", s.cfg.BanFile, ban.Addr)
		}
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ban := range bans {
		if now.Before(ban.Until) {
			s.bans.banned[ban.Addr] = ban
		}
	}
	return nil
}

// saveBans replaces Config.BanFile with the bans in force; s.mu is held. A
// write that fails leaves the bans in force and the file as it was, and is
// logged: the ban holds until the node stops.
func (s *Server) saveBans() {
	if s.cfg.BanFile == "" {
		return
	}
	now := s.now()
	bans := []BanInfo{}
	for _, b := range s.bans.banned {
		if now.Before(b.Until) {
			bans = append(bans, b)
		}
	}
	slices.SortFunc(bans, func(a, b BanInfo) int { return strings.Compare(a.Addr, b.Addr) })
	b, err := json.MarshalIndent(bans, "", "  ")
	if err == nil {
		err = atomicfile.Write(s.cfg.BanFile, append(b, '\n'), 0o644)
	}
	if err != nil {
		s.log.Error("keep bans: they hold until the node stops", "file", s.cfg.BanFile, "err", err)
	}
}
