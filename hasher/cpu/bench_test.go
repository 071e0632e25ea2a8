package cpu_test

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"testing"

	"github.com/hashforge/hashforge/hasher"
	"github.com/hashforge/hashforge/hasher/cpu"
)

// reportHashrate reports hashes per second of b's elapsed time.
func reportHashrate(b *testing.B, hashes uint64) {
	b.ReportMetric(float64(hashes)/b.Elapsed().Seconds(), "H/s")
}

// BenchmarkSearch is each path this CPU has on one core, in ranges of 2^16
// nonces of a zero target (every nonce hashed, none a hit).
func BenchmarkSearch(b *testing.B) {
	for _, impl := range cpu.Available() {
		b.Run(impl, func(b *testing.B) {
			d, err := cpu.OpenPath(impl)
			if err != nil {
				b.Fatal(err)
			}
			var w hasher.Work
			const batch = 1 << 16
			n := uint64(0)
			for b.Loop() {
				d.Search(&w, uint32(n), batch, nil)
				n += batch
			}
			reportHashrate(b, n)
		})
	}
}

// BenchmarkStdlibMidstate is the yardstick: Go's crypto/sha256 (which uses
// SHA-NI or AVX2 itself) with the state after the first 64 bytes saved and
// restored per nonce, then the second hash.
func BenchmarkStdlibMidstate(b *testing.B) {
	var header [80]byte
	h := sha256.New()
	h.Write(header[:64])
	mid, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	restore := h.(encoding.BinaryUnmarshaler)
	var first, second [32]byte
	var sink byte
	for i := 0; b.Loop(); i++ {
		restore.UnmarshalBinary(mid)
		binary.LittleEndian.PutUint32(header[76:], uint32(i))
		h.Write(header[64:])
		h.Sum(first[:0])
		second = sha256.Sum256(first[:])
		sink ^= second[31]
	}
	_ = sink
	reportHashrate(b, uint64(b.N))
}
