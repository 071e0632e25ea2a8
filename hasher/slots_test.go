package hasher

import (
	"testing"
	"time"
)

func TestSlots(t *testing.T) {
	p := NewSlots([]int{1, 2})
	a, ok := p.Take()
	b, ok2 := p.Take()
	if !ok || !ok2 || a == b {
		t.Fatalf("Take, Take = %d %v, %d %v: want both slots", a, ok, b, ok2)
	}
	p.Put(a)
	// b stays held, as by a hung launch: Close gives up after its wait.
	t0 := time.Now()
	if already, idle := p.Close(100 * time.Millisecond); already || idle {
		t.Errorf("Close with a slot held = %v, %v: want a first close, not idle", already, idle)
	}
	if took := time.Since(t0); took < 100*time.Millisecond || took > time.Second {
		t.Errorf("Close waited %v, want its 100ms", took)
	}
	if _, ok := p.Take(); ok {
		t.Error("Take after Close succeeded")
	}
	if already, _ := p.Close(time.Second); !already {
		t.Error("a second Close is not reported as one")
	}

	q := NewSlots([]int{1, 2})
	if _, idle := q.Close(time.Second); !idle {
		t.Error("Close with every slot free is not idle")
	}
}
