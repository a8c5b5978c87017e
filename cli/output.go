package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clauderon/clauderon"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeSessions renders the session table.
func writeSessions(w io.Writer, ss []*clauderon.Session, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tAGENT\tBACKEND\tMODE\tACCESS\tAGE\tIMAGE")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			s.Name, statusText(s), dash(s.Agent), s.Backend, s.Mode, s.AccessMode, age(now.Sub(s.CreatedAt)), dash(s.Image))
	}
	return tw.Flush()
}

func statusText(s *clauderon.Session) string {
	if s.Status == clauderon.StatusExited && s.ExitCode != nil {
		return fmt.Sprintf("exited(%d)", *s.ExitCode)
	}
	return string(s.Status)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// age renders a duration the way people read it: 12s, 5m, 3h, 2d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// writeSession renders one session in full.
func writeSession(w io.Writer, s *clauderon.Session) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("Name", s.Name)
	row("Status", statusText(s))
	row("Agent", s.Agent)
	row("Backend", s.Backend)
	row("Image", s.Image)
	row("Mode", string(s.Mode))
	row("Access", string(s.AccessMode))
	row("Allow", strings.Join(s.Allow, ", ")) // egress beyond the defaults (create --allow)
	row("Repository", s.Repo)
	row("Worktree", s.Worktree)
	row("Branch", s.Branch)
	if len(s.ContainerID) > 12 {
		row("Container", s.ContainerID[:12])
	} else {
		row("Container", s.ContainerID)
	}
	row("Prompt", oneLine(s.Prompt, 100))
	row("Error", s.Error)
	row("Created", s.CreatedAt.Local().Format(time.RFC3339))
	row("Updated", s.UpdatedAt.Local().Format(time.RFC3339))
	return tw.Flush()
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		return s[:max-1] + "…"
	}
	return s
}
