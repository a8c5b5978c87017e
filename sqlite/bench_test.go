package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/clauderon/clauderon"
)

// BenchmarkListSessions100 is what `clauderon list` and the web UI's refresh
// cost the daemon with 100 sessions in a file database.
func BenchmarkListSessions100(b *testing.B) {
	db := MustOpen(b, tempPath(b))
	ctx := context.Background()
	for i := range 100 {
		s := fullSession(fmt.Sprintf("bench-%03d", i))
		if err := db.CreateSession(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		ss, err := db.ListSessions(ctx, clauderon.SessionFilter{Archived: true})
		if err != nil || len(ss) != 100 {
			b.Fatalf("List = %d, %v", len(ss), err)
		}
	}
}

// BenchmarkCreateSession is one durable insert: the fsync of synchronous=FULL
// dominates, and is the price of never losing a created session.
func BenchmarkCreateSession(b *testing.B) {
	db := MustOpen(b, tempPath(b))
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if err := db.CreateSession(ctx, minimalSession(fmt.Sprintf("s-%d", i))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
