package cpu

import "github.com/hashforge/hashforge/hasher"

// OpenPath opens a one-thread device hashing with impl.
func OpenPath(impl string) (hasher.Device, error) {
	b, err := NewImpl(1, impl)
	if err != nil {
		return nil, err
	}
	return b.Open(hasher.DeviceInfo{Backend: hasher.CPUBackend, Threads: 1, Impl: impl})
}
