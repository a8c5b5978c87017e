package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/clauderon/clauderon"
)

// scanLines calls fn for each complete line (without its '\n') of f from
// offset off, and returns the offset just past the last complete line. A final
// fragment without '\n' is left unread: it is a line the writer has not
// finished, or the remains of a crash, and the caller decides which.
func scanLines(f *os.File, off int64, fn func(line []byte) error) (int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(f, off, math.MaxInt64-off), 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return off, fmt.Errorf("read audit log %s: %w", f.Name(), err)
		}
		off += int64(len(line))
		if err := fn(line[:len(line)-1]); err != nil {
			return off, err
		}
	}
}

// errMalformed marks a line that is not an audit event.
var errMalformed = errors.New("malformed audit line")

// decodeLine parses one line. Blank lines and anything that is not a JSON
// object with a time are errMalformed.
func decodeLine(line []byte) (clauderon.AuditEvent, error) {
	var ev clauderon.AuditEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		return ev, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if ev.Time.IsZero() {
		return ev, fmt.Errorf("%w: no ts", errMalformed)
	}
	return ev, nil
}

// matches reports whether ev passes the filter's session condition. (Limit
// is applied by the caller, which knows how many it has.)
func matches(f clauderon.AuditFilter, ev clauderon.AuditEvent) bool {
	return f.Session == "" || ev.Session == f.Session
}
