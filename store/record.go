package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Every value the store writes is a sealed record: a CRC-32C of the key and
// the value (4 bytes, big-endian), then the value. Every read opens the
// record, so damage on disk is an error naming the record instead of a
// wrong balance or a block that no longer hashes to its key. The key is
// summed too: a value that damage moves under another key, or a key whose
// bytes flip, fails as well. CRC-32C catches every burst of up to 32 bits
// and misses random damage once in 2^32; it guards against the disk, not an
// adversary who can write the file (block hashes and merkle roots do that).

// checksumSize is the length of a record's checksum prefix.
const checksumSize = 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errChecksum reports a record whose checksum does not match its bytes.
var errChecksum = errors.New("checksum mismatch")

func recordSum(key, value []byte) uint32 {
	return crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, value)
}

// sealRecord returns the record that stores value under key.
func sealRecord(key, value []byte) []byte {
	rec := binary.BigEndian.AppendUint32(make([]byte, 0, checksumSize+len(value)), recordSum(key, value))
	return append(rec, value...)
}

// openRecord checks a record read under key and returns its value, which
// shares rec's memory.
func openRecord(key, rec []byte) ([]byte, error) {
	if len(rec) < checksumSize {
		return nil, fmt.Errorf("record of %d bytes is shorter than its checksum", len(rec))
	}
	value := rec[checksumSize:]
	if binary.BigEndian.Uint32(rec) != recordSum(key, value) {
		return nil, errChecksum
	}
	return value, nil
}
