package hasher

import (
	"errors"
	"testing"
	"time"
)

// fakeBackend opens devices that count their Close; the one named failID
// fails to open.
type fakeBackend struct {
	failID string
	closed map[string]int
}

func (b *fakeBackend) Name() string                { return "fake" }
func (b *fakeBackend) List() ([]DeviceInfo, error) { return nil, nil }
func (b *fakeBackend) Open(info DeviceInfo) (Device, error) {
	if info.ID() == b.failID {
		return nil, errors.New("no such card")
	}
	return &fakeDevice{info: info, closed: b.closed}, nil
}

type fakeDevice struct {
	info   DeviceInfo
	closed map[string]int
}

func (d *fakeDevice) Info() DeviceInfo               { return d.info }
func (d *fakeDevice) Lanes() int                     { return 1 }
func (d *fakeDevice) Batch() (uint64, time.Duration) { return 1, 0 }
func (d *fakeDevice) Close() error                   { d.closed[d.info.ID()]++; return nil }
func (d *fakeDevice) Search(*Work, uint32, uint32, []uint32) ([]uint32, error) {
	return nil, nil
}

// A device that fails to open leaves none of the others open.
func TestOpenClosesOnFailure(t *testing.T) {
	b := &fakeBackend{failID: "fake2", closed: map[string]int{}}
	var cands []Candidate
	for i := range 3 {
		cands = append(cands, Candidate{Backend: b, Info: DeviceInfo{Backend: "fake", Index: i}})
	}
	devs, err := Open(cands, nil)
	if err == nil || devs != nil {
		t.Fatalf("Open = %v, %v: want no devices and fake2's error", devs, err)
	}
	if b.closed["fake0"] != 1 || b.closed["fake1"] != 1 {
		t.Errorf("closed %v: want fake0 and fake1 closed once", b.closed)
	}
}
