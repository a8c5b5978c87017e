package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
)

func TestWriteSessionShowsExtraEgress(t *testing.T) {
	s := &clauderon.Session{Name: "s1", Status: clauderon.StatusRunning, Allow: []string{"pypi.org", "10.0.0.0/8"},
		CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0)}
	var b strings.Builder
	if err := writeSession(&b, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Allow:") || !strings.Contains(b.String(), "pypi.org, 10.0.0.0/8") {
		t.Errorf("status output without the session's allow list:\n%s", b.String())
	}
	b.Reset()
	s.Allow = nil
	writeSession(&b, s)
	if strings.Contains(b.String(), "Allow:") {
		t.Errorf("an empty allow list is printed:\n%s", b.String())
	}
}
