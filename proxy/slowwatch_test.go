package proxy

import (
	"testing"
	"time"
)

// A request past goneWatchDelay is handed to its watcher and leaves the
// list; the ticker stops once requests stop coming.
func TestSlowRequestsFireThenStopTicking(t *testing.T) {
	var s slowRequests
	g := &goneWatcher{stopped: true} // fire returns at once
	s.add(g, time.Now().Add(-time.Second))
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		_, listed := s.since[g]
		ticking := s.ticking
		s.mu.Unlock()
		if !listed && !ticking {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: still listed %v, still ticking %v", listed, ticking)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
