package session

import (
	"strconv"
	"strings"

	"github.com/clauderon/clauderon"
)

// ParseMemory reads a memory size the way docker run --memory does: a number
// with an optional unit b, k, m or g (powers of 1024). "" is no limit.
func ParseMemory(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'b':
		s = s[:len(s)-1]
	case 'k':
		mult, s = 1<<10, s[:len(s)-1]
	case 'm':
		mult, s = 1<<20, s[:len(s)-1]
	case 'g':
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 || n*float64(mult) > 1<<50 {
		return 0, clauderon.Errorf(clauderon.EINVALID, "invalid memory size %q: use a number with k, m or g, like 512m or 2g", s)
	}
	v := int64(n * float64(mult))
	if v < 6<<20 {
		return 0, clauderon.Errorf(clauderon.EINVALID, "memory limit %q is too small: Docker needs at least 6m", s)
	}
	return v, nil
}
