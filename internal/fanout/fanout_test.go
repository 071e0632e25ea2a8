package fanout

import "testing"

func TestFanout(t *testing.T) {
	var f Fanout[int]
	if missed := f.Publish(0); missed != 0 {
		t.Errorf("publish with no subscriber: %d missed", missed)
	}
	a, cancelA := f.Subscribe(2)
	b, cancelB := f.Subscribe(1)
	defer cancelB()
	if missed := f.Publish(1); missed != 0 {
		t.Errorf("first event: %d missed, want 0", missed)
	}
	if missed := f.Publish(2); missed != 1 {
		t.Errorf("second event: %d missed, want 1 (b's buffer is full)", missed)
	}
	if got := [3]int{<-a, <-a, <-b}; got != [3]int{1, 2, 1} {
		t.Errorf("received %v, want a: 1 2, b: 1", got)
	}
	cancelA()
	cancelA() // twice does nothing
	if missed := f.Publish(3); missed != 0 || <-b != 3 {
		t.Errorf("after a cancelled: %d missed, want b alone to have 3", missed)
	}
	select {
	case v := <-a:
		t.Errorf("a cancelled subscription received %d", v)
	default:
	}
}
