package cli

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCopyUntilDetach(t *testing.T) {
	tests := []struct {
		name, in, want string
		detached       bool
	}{
		{"plain input passes", "hello\n", "hello\n", false},
		{"detach in the middle", "ab\x10\x11cd", "ab", true},
		{"ctrl-p alone passes", "a\x10b", "a\x10b", false},
		{"ctrl-p at end of input is flushed", "a\x10", "a\x10", false},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			var out bytes.Buffer
			err := copyUntilDetach(&out, r)
			if got := out.String(); got != tt.want {
				t.Errorf("%s (one byte %v): wrote %q, want %q", tt.name, oneByte, got, tt.want)
			}
			if (err == errDetached) != tt.detached {
				t.Errorf("%s (one byte %v): err %v, detached want %v", tt.name, oneByte, err, tt.detached)
			}
		}
	}
}
