package session

import (
	"testing"

	"github.com/clauderon/clauderon"
)

// TestTokensBindIdentity: a token authenticates only as its own session;
// Current follows Set and Remove at once; a session's new token replaces its
// old one.
func TestTokensBindIdentity(t *testing.T) {
	t.Parallel()
	tokens := NewTokens()
	tokA, hashA := NewToken()
	tokB, hashB := NewToken()
	tokens.Set(hashA, clauderon.Identity{Session: "a", AccessMode: clauderon.AccessReadWrite})
	tokens.Set(hashB, clauderon.Identity{Session: "b", AccessMode: clauderon.AccessReadOnly})
	if id, ok := tokens.Authenticate(tokA); !ok || id.Session != "a" {
		t.Fatalf("token a: %+v %v", id, ok)
	}
	if id, ok := tokens.Authenticate(tokB); !ok || id.Session != "b" {
		t.Fatalf("token b: %+v %v", id, ok)
	}
	for _, bad := range []string{"", tokA + "x", tokA[:len(tokA)-1], hashA} {
		if _, ok := tokens.Authenticate(bad); ok {
			t.Fatalf("Authenticate(%q) accepted", bad)
		}
	}
	tokens.Set(hashA, clauderon.Identity{Session: "a", AccessMode: clauderon.AccessReadOnly})
	if id, ok := tokens.Current("a"); !ok || id.AccessMode != clauderon.AccessReadOnly {
		t.Fatalf("Current(a) after the mode change: %+v %v", id, ok)
	}
	tokens.Remove(hashA)
	if _, ok := tokens.Current("a"); ok {
		t.Fatal("Current(a) after Remove")
	}
	if _, ok := tokens.Authenticate(tokA); ok {
		t.Fatal("token a works after Remove")
	}
	if _, ok := tokens.Current("b"); !ok {
		t.Fatal("removing a revoked b")
	}
	// A session that gets a new token loses the old one.
	tokB2, hashB2 := NewToken()
	tokens.Set(hashB2, clauderon.Identity{Session: "b"})
	if _, ok := tokens.Authenticate(tokB); ok {
		t.Fatal("b's old token still works after a new one was set")
	}
	if _, ok := tokens.Authenticate(tokB2); !ok {
		t.Fatal("b's new token refused")
	}
	if tokens.Len() != 1 {
		t.Fatalf("Len = %d, want 1", tokens.Len())
	}
}
