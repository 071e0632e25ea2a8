package node

import (
	"os"
	"sync"
	"time"
)

// probeEvery is how long a probe's answer stands: health checks and
// scrapes may come every second, a write and sync each would cost the disk.
const probeEvery = 10 * time.Second

// probeSize is what a probe writes: a block's worth, so a full disk fails
// it as it fails the store's next page.
const probeSize = 4 << 10

// dirProbe is the datadir as the API's health check sees it: it writes and
// syncs a small file there, so a full disk, a file system remounted
// read-only or a permission taken away shows before the next block fails
// to be stored.
type dirProbe struct {
	dir string

	mu  sync.Mutex
	at  time.Time // of the last probe
	err error     // its answer
}

func (p *dirProbe) Writable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); p.at.IsZero() || now.Sub(p.at) >= probeEvery {
		p.err, p.at = probeWrite(p.dir), now
	}
	return p.err
}

// probeWrite writes, syncs and removes a file in dir; its errors name the
// file.
func probeWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, probeSize))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
