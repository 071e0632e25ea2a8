package sim

import "time"

// evKind says what an event does when its time comes.
type evKind uint8

const (
	evStart   evKind = iota // call Start on node `to`
	evDeliver               // a message from `from` arrives at `to`
	evWake                  // a timer of node `to` fires
	evMine                  // the mining schedule finds the next block
	evFault                 // fault `arg` begins (inc 1) or ends (inc 0)
	evTx                    // the transaction schedule hands a node the next transaction
)

// event is one entry of the queue. Events are ordered by (at, seq): seq
// is given at push, so events due at the same instant run in the order
// they were made, never in an order a map or a goroutine chose.
type event struct {
	at    time.Duration // virtual time since Epoch
	seq   uint64
	kind  evKind
	from  int32
	to    int32
	inc   uint32 // evWake: the node's incarnation when the timer was set; evFault: 1 begins
	arg   int32  // evFault: the fault's index
	msg   Message
	token any
}

func (a *event) before(b *event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// queue is a binary min-heap of events, written out rather than through
// container/heap to keep events as values and calls direct.
type queue struct{ h []event }

func (q *queue) len() int { return len(q.h) }

func (q *queue) push(e event) {
	q.h = append(q.h, e)
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.h[i].before(&q.h[p]) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

func (q *queue) peek() *event { return &q.h[0] }

func (q *queue) pop() event {
	top := q.h[0]
	last := len(q.h) - 1
	q.h[0] = q.h[last]
	q.h[last] = event{} // drop references to the payload and token
	q.h = q.h[:last]
	i, n := 0, last
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.h[r].before(&q.h[l]) {
			m = r
		}
		if !q.h[m].before(&q.h[i]) {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return top
}
