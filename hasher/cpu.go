package hasher

import (
	"bufio"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"os"
	"runtime"
	"strings"
	"time"
)

// CPU hashes on the host's cores: one device with one lane per thread.
type CPU struct {
	threads int
}

// NewCPU returns the CPU backend with threads workers; 0 means one per core.
func NewCPU(threads int) *CPU {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	return &CPU{threads: threads}
}

// CPUBackend names the CPU backend in device IDs and metrics.
const CPUBackend = "cpu"

// Name returns "cpu".
func (c *CPU) Name() string { return CPUBackend }

// List returns the one CPU device.
func (c *CPU) List() ([]DeviceInfo, error) {
	info := CPUInfo()
	info.Threads = c.threads
	return []DeviceInfo{info}, nil
}

// Open returns the CPU device.
func (c *CPU) Open(info DeviceInfo) (Device, error) { return &cpuDevice{info: info}, nil }

// CPUInfo describes the host processor: model, cores, and the instruction
// set extensions that matter for SHA-256, as the kernel reports them.
func CPUInfo() DeviceInfo {
	info := DeviceInfo{Backend: CPUBackend, Name: runtime.GOARCH, Threads: runtime.NumCPU()}
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return info
	}
	defer f.Close()
	flags := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		switch k = strings.TrimSpace(k); {
		case !ok:
		case k == "model name" && info.Name == runtime.GOARCH:
			info.Name = strings.TrimSpace(v)
		case (k == "flags" || k == "Features") && len(flags) == 0:
			for _, fl := range strings.Fields(v) {
				flags[fl] = true
			}
		}
	}
	for _, ext := range []struct{ flag, name string }{
		{"sha_ni", "SHA-NI"}, {"avx2", "AVX2"}, {"avx512f", "AVX-512"}, {"sha2", "ARMv8-SHA2"},
	} {
		if flags[ext.flag] {
			info.Features = append(info.Features, ext.name)
		}
	}
	return info
}

type cpuDevice struct {
	info DeviceInfo
}

func (d *cpuDevice) Info() DeviceInfo { return d.info }
func (d *cpuDevice) Lanes() int       { return d.info.Threads }

// Batch sizes CPU ranges to about 2 ms: a thread sees new work that soon.
func (d *cpuDevice) Batch() (uint64, time.Duration) { return 4096, 2 * time.Millisecond }

// Search saves the SHA-256 state after the header's first 64 bytes (the
// midstate) once per call, so each nonce costs the compression of the
// header's second block plus the second hash: two compressions instead of
// three. The standard library's SHA-256 uses SHA-NI or AVX2 where the CPU has
// them, which beats a portable Go compression loop.
func (d *cpuDevice) Search(w *Work, start, count uint32, hits []uint32) ([]uint32, error) {
	h := sha256.New()
	h.Write(w.Header[:64])
	mid, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return hits, err
	}
	restore := h.(encoding.BinaryUnmarshaler)

	var tail [HeaderSize - 64]byte
	copy(tail[:], w.Header[64:])
	var first, second [32]byte
	// Most hashes fail on their most significant word; compare the rest only then.
	top := binary.LittleEndian.Uint32(w.Target[28:])
	for i := uint32(0); i < count; i++ {
		nonce := start + i
		if err := restore.UnmarshalBinary(mid); err != nil {
			return hits, err
		}
		binary.LittleEndian.PutUint32(tail[nonceOffset-64:], nonce)
		h.Write(tail[:])
		h.Sum(first[:0])
		second = sha256.Sum256(first[:])
		if binary.LittleEndian.Uint32(second[28:]) > top {
			continue
		}
		if Meets(&second, &w.Target) {
			hits = append(hits, nonce)
		}
	}
	return hits, nil
}
