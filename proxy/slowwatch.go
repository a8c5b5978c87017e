package proxy

import (
	"sync"
	"time"
)

// slowRequests hands the requests still running after goneWatchDelay to
// their goneWatcher, with one ticking goroutine for all of them.
//
// A timer per request (time.AfterFunc) was the largest cost of a small
// request after its system calls: 6 µs at the median, 21 µs at p90, on the
// sequential latency benchmark. A new timer that is the runtime's earliest
// interrupts the thread sleeping in epoll_wait (an eventfd write, and a
// wake-up), and a request's 100 ms timer was nearly always the earliest.
// Here a request costs a map insert and delete under a mutex; the ticker
// runs while requests come and stops after a second without any.
type slowRequests struct {
	mu      sync.Mutex
	since   map[*goneWatcher]time.Time
	ticking bool
	added   bool // since the last tick
}

// slowTick is how often the ticker looks: a request is watched between
// goneWatchDelay and goneWatchDelay+slowTick after it started.
const slowTick = goneWatchDelay / 2

// idleTicks is how many ticks without a request end the ticker.
const idleTicks = int(time.Second / slowTick)

func (s *slowRequests) add(g *goneWatcher, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.since == nil {
		s.since = make(map[*goneWatcher]time.Time)
	}
	s.since[g] = now
	s.added = true
	if !s.ticking {
		s.ticking = true
		go s.tick()
	}
}

func (s *slowRequests) remove(g *goneWatcher) {
	s.mu.Lock()
	delete(s.since, g)
	s.mu.Unlock()
}

func (s *slowRequests) tick() {
	var due []*goneWatcher
	idle := 0
	for {
		time.Sleep(slowTick)
		now := time.Now()
		s.mu.Lock()
		if len(s.since) > 0 || s.added {
			idle = 0
		} else if idle++; idle >= idleTicks {
			s.ticking = false
			s.mu.Unlock()
			return
		}
		s.added = false
		due = due[:0]
		for g, t := range s.since {
			if now.Sub(t) >= goneWatchDelay {
				due = append(due, g)
				delete(s.since, g)
			}
		}
		s.mu.Unlock()
		// fire takes the watcher's lock, and a watcher holding it may
		// add or remove itself: s.mu is not held here.
		for _, g := range due {
			g.fire()
		}
		clear(due)
	}
}
