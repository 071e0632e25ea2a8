package mempool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"time"

	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/internal/atomicfile"
)

// FileName is the pool's file inside a datadir: its transactions saved for
// the next start, as bitcoind keeps mempool.dat.
const FileName = "mempool.dat"

// The file is
//
//	"hfmp" | version (1) | network magic (4) | count (4)
//	count × (added: Unix nanoseconds (8) | size (4) | the transaction's encoding)
//	CRC-32C of all of the above (4)
//
// integers little-endian, transactions in block order, so every sender's
// nonces come in sequence and admission takes them one after another.
const (
	fileMagic   = "hfmp"
	fileVersion = 1
	fileHeader  = len(fileMagic) + 1 + 4 + 4
	recordHead  = 8 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeFile(magic [4]byte, entries []Entry) []byte {
	b := append([]byte(fileMagic), fileVersion)
	b = append(b, magic[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		raw := e.Tx.Bytes()
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Added.UnixNano()))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(raw)))
		b = append(b, raw...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeFile reads a file encodeFile wrote for the network of magic.
func decodeFile(b []byte, magic [4]byte) ([]Entry, error) {
	if len(b) < fileHeader+4 {
		return nil, fmt.Errorf("%d bytes: shorter than a header", len(b))
	}
	body := b[:len(b)-4]
	if sum := binary.LittleEndian.Uint32(b[len(body):]); sum != crc32.Checksum(body, castagnoli) {
		return nil, errors.New("checksum mismatch")
	}
	if string(body[:4]) != fileMagic {
		return nil, fmt.Errorf("not a mempool file (starts %q)", body[:4])
	}
	if v := body[4]; v != fileVersion {
		return nil, fmt.Errorf("version %d, this node reads %d", v, fileVersion)
	}
	if got := [4]byte(body[5:9]); got != magic {
		return nil, fmt.Errorf("saved for network magic %x, this is %x", got, magic)
	}
	count := binary.LittleEndian.Uint32(body[9:fileHeader])
	rest := body[fileHeader:]
	// A count beyond what the bytes can hold is damage, not an allocation.
	entries := make([]Entry, 0, min(int(count), len(rest)/recordHead))
	for i := range count {
		if len(rest) < recordHead {
			return nil, fmt.Errorf("transaction %d of %d: file ends", i, count)
		}
		added, size := int64(binary.LittleEndian.Uint64(rest)), binary.LittleEndian.Uint32(rest[8:])
		rest = rest[recordHead:]
		if uint64(size) > uint64(len(rest)) {
			return nil, fmt.Errorf("transaction %d of %d: %d bytes, the file holds %d more", i, count, size, len(rest))
		}
		tx, err := chain.DecodeTx(rest[:size])
		if err != nil {
			return nil, fmt.Errorf("transaction %d of %d: %w", i, count, err)
		}
		entries = append(entries, Entry{Tx: tx, Size: int(size), Added: time.Unix(0, added)})
		rest = rest[size:]
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%d bytes after the last transaction", len(rest))
	}
	return entries, nil
}

// Save writes the pending transactions to path and returns how many. The
// file is replaced whole (a temporary file, synced, then renamed), so a
// crash or a full disk leaves the last complete save in place.
func (p *Pool) Save(path string) (int, error) {
	entries, _, err := p.Entries()
	if err != nil {
		return 0, fmt.Errorf("save mempool: %w", err)
	}
	if err := atomicfile.Write(path, encodeFile(p.magic, entries), 0o600); err != nil {
		return 0, fmt.Errorf("save mempool: %w", err)
	}
	return len(entries), nil
}

// Load admits the transactions Save wrote to path, each through the checks
// a new one passes, keeping the time it first arrived. Those that have
// expired since, or no longer fit the chain (confirmed, outspent, below the
// fee policy), are dropped and counted in the log line. A missing file is
// an empty pool; a damaged one is logged and left for the next Save to
// replace: the pool is a cache, never a reason not to start.
func (p *Pool) Load(path string) (restored, dropped int) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0
	}
	var entries []Entry
	if err == nil {
		entries, err = decodeFile(raw, p.magic)
	}
	if err != nil {
		p.log.Warn("mempool file ignored", "file", path, "err", err)
		return 0, 0
	}
	expired, invalid := 0, 0
	cutoff := p.now().Add(-p.cfg.Expiry)
	for _, e := range entries {
		switch {
		case e.Added.Before(cutoff):
			expired++
		case p.add(e.Tx, e.Added) != nil:
			invalid++
		default:
			restored++
		}
	}
	p.log.Info("mempool loaded", "file", path, "restored", restored, "expired", expired, "invalid", invalid)
	return restored, expired + invalid
}

// Persist saves the pool to path every interval until ctx ends, so a crash
// loses at most the transactions of the last interval; the node saves once
// more as it stops. Saving that starts to fail (a full disk) is logged once,
// and once more when it works again, not at every try.
func (p *Pool) Persist(ctx context.Context, path string, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var failing bool
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := p.Save(path)
		switch {
		case err != nil && !failing:
			p.log.Error("mempool not saved; trying again every interval", "file", path, "every", every, "err", err)
		case err == nil && failing:
			p.log.Info("mempool saved again", "file", path, "transactions", n)
		}
		failing = err != nil
	}
}
