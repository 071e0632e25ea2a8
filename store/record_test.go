package store

import (
	"bytes"
	"testing"
)

// Every single-bit flip of a record, and a record read under another key,
// fails to open.
func TestRecordChecksum(t *testing.T) {
	key, value := []byte("key"), []byte("a value of some length")
	rec := sealRecord(key, value)
	if got, err := openRecord(key, rec); err != nil || !bytes.Equal(got, value) {
		t.Fatalf("openRecord(sealRecord) = %q, %v", got, err)
	}
	for bit := range len(rec) * 8 {
		bad := bytes.Clone(rec)
		bad[bit/8] ^= 1 << (bit % 8)
		if _, err := openRecord(key, bad); err == nil {
			t.Errorf("bit %d flipped: the record still opens", bit)
		}
	}
	if _, err := openRecord([]byte("kez"), rec); err == nil {
		t.Error("the record opens under another key")
	}
	for n := range checksumSize {
		if _, err := openRecord(key, rec[:n]); err == nil {
			t.Errorf("a record of %d bytes opens", n)
		}
	}
	if got, err := openRecord(key, sealRecord(key, nil)); err != nil || len(got) != 0 {
		t.Errorf("empty value: %q, %v", got, err)
	}
}

func FuzzOpenRecord(f *testing.F) {
	f.Add([]byte("tip"), sealRecord([]byte("tip"), bytes.Repeat([]byte{7}, 32)))
	f.Add([]byte{}, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, key, rec []byte) {
		v, err := openRecord(key, rec)
		if err != nil {
			return
		}
		if !bytes.Equal(sealRecord(key, v), rec) {
			t.Fatalf("record %x under %x opens to %x, which seals differently", rec, key, v)
		}
	})
}

// scanLeaves reads any bytes without panicking, and every value it reports
// lies in the file where it says.
func FuzzScanLeaves(f *testing.F) {
	const pageSize = 64
	page := make([]byte, 3*pageSize)
	copy(page[2*pageSize:], []byte{2, 0, 0, 0, 0, 0, 0, 0, leafPageFlag, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 'k', 'k', 'v', 'v', 'v'})
	f.Add(page)
	f.Fuzz(func(t *testing.T, file []byte) {
		err := scanLeaves(bytes.NewReader(file), int64(len(file)), pageSize, func(key, value []byte, off int64) {
			if off < 0 || off+int64(len(value)) > int64(len(file)) || !bytes.Equal(file[off:off+int64(len(value))], value) {
				t.Fatalf("value %x at %d is not what the file holds there", value, off)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
