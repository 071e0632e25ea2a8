// Package hasher searches block header nonces for hashes under a target. A
// Backend (the CPU, later GPUs) opens Devices; the Scheduler hands every
// device nonce ranges of the current Work and re-checks every hit on the CPU.
// The package sees only 80-byte headers and targets, never blocks.
package hasher

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// HeaderSize is the length of a block header; the nonce is its last 4 bytes.
const HeaderSize = 80

const nonceOffset = 76

// CPUBackend names the CPU backend (package hasher/cpu) in device IDs and
// metrics; the scheduler changes the threads of its devices only.
const CPUBackend = "cpu"

// Work is one header to search and the target its hash must not exceed.
type Work struct {
	Header [HeaderSize]byte
	Target [32]byte // little-endian 256-bit number, compared like a hash
}

// WithNonce returns the header with nonce written in.
func (w *Work) WithNonce(nonce uint32) [HeaderSize]byte {
	h := w.Header
	binary.LittleEndian.PutUint32(h[nonceOffset:], nonce)
	return h
}

// HashHeader returns SHA-256d of a header.
func HashHeader(h [HeaderSize]byte) [32]byte {
	first := sha256.Sum256(h[:])
	return sha256.Sum256(first[:])
}

// Meets reports whether hash ≤ target, both read as little-endian numbers.
func Meets(hash, target *[32]byte) bool {
	for i := 31; i >= 0; i-- {
		if hash[i] != target[i] {
			return hash[i] < target[i]
		}
	}
	return true
}

// DeviceInfo describes a hashing device.
type DeviceInfo struct {
	Backend string `json:"backend"`
	Index   int    `json:"index"` // within the backend
	Name    string `json:"name"`
	// CPU: hashing threads and instruction set extensions.
	Threads  int      `json:"threads,omitempty"`
	Features []string `json:"features,omitempty"`
	// Impl is the CPU backend's SHA-256d path: avx512, avx2, shani or generic.
	Impl string `json:"impl,omitempty"`
	// GPUs: multiprocessors or compute units, memory, CUDA compute
	// capability, OpenCL platform and device type.
	ComputeUnits int    `json:"compute_units,omitempty"`
	MemoryBytes  uint64 `json:"memory_bytes,omitempty"`
	Capability   string `json:"capability,omitempty"`
	Program      string `json:"program,omitempty"` // CUDA: the PTX target the device loaded, "sm_80"
	Platform     string `json:"platform,omitempty"`
	Type         string `json:"type,omitempty"` // "GPU", "CPU", "accelerator"
}

// ID names the device in logs, metrics and flags: backend and index, "cpu0".
func (d DeviceInfo) ID() string { return fmt.Sprintf("%s%d", d.Backend, d.Index) }

// Device searches nonce ranges.
type Device interface {
	Info() DeviceInfo
	// Lanes is how many Search calls the scheduler runs on the device at once.
	Lanes() int
	// Batch gives the nonces of a lane's first range and how long one Search
	// should take; the scheduler resizes ranges toward that time, so new work
	// reaches the device within one range. A zero time keeps the size fixed.
	Batch() (nonces uint64, took time.Duration)
	// Search hashes nonces [start, start+count) of w and appends each nonce
	// whose hash meets w.Target to hits. start+count may not exceed 2^32.
	Search(w *Work, start, count uint32, hits []uint32) ([]uint32, error)
}

// Backend is one kind of hashing hardware.
type Backend interface {
	Name() string
	// List describes the backend's devices without opening them; the error
	// says why there are none (no driver, no platform).
	List() ([]DeviceInfo, error)
	// Open prepares a listed device for hashing.
	Open(info DeviceInfo) (Device, error)
}
