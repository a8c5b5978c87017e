package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/audit"
)

func auditCmd(g *globals, io stdio) *cobra.Command {
	var f clauderon.AuditFilter
	var follow, asJSON bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the proxy's audit log",
		Long:  "Show what went through the proxy: one line per request, with whether a credential was injected. Reads $CLAUDERON_HOME/audit.jsonl; the daemon need not run.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := g.Home()
			if err != nil {
				return err
			}
			r := audit.NewReader(filepath.Join(home, "audit.jsonl"))
			ctx := cmd.Context()
			if follow {
				enc := json.NewEncoder(io.out)
				err := r.Follow(ctx, f, func(ev clauderon.AuditEvent) error {
					if asJSON {
						return enc.Encode(ev)
					}
					_, err := fmt.Fprintln(io.out, audit.FormatEventLine(ev))
					return err
				})
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			evs, err := r.Read(ctx, f)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(io.out)
				for _, ev := range evs {
					if err := enc.Encode(ev); err != nil {
						return err
					}
				}
				return nil
			}
			return audit.FormatTable(io.out, evs)
		},
	}
	cmd.Flags().StringVar(&f.Session, "session", "", "only this session")
	cmd.Flags().IntVar(&f.Limit, "limit", 0, "only the newest N events")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}
