package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/sqlite"
)

func TestProxyPortChangeRefusedWhileSessionsRun(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(home, "clauderon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.DiscardHandler)
	s := &clauderon.Session{Name: "busy", Agent: "claude", Backend: "docker", Image: "img",
		Mode: clauderon.ModeInteractive, AccessMode: clauderon.AccessReadWrite, Status: clauderon.StatusRunning}
	if err := db.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := checkProxyPort(ctx, home, 18080, db, log); err != nil {
		t.Fatalf("first start: %v", err)
	}
	if err := checkProxyPort(ctx, home, 18080, db, log); err != nil {
		t.Fatalf("same port again: %v", err)
	}
	err = checkProxyPort(ctx, home, 18081, db, log)
	if err == nil || clauderon.ErrorCode(err) != clauderon.EINVALID ||
		!strings.Contains(err.Error(), "busy") || !strings.Contains(err.Error(), "port 18080") {
		t.Fatalf("port change with a running session: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(home, "proxy-port")); strings.TrimSpace(string(b)) != "18080" {
		t.Errorf("a refused start changed the remembered port to %q", b)
	}
	s.Status = clauderon.StatusExited
	if err := db.UpdateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := checkProxyPort(ctx, home, 18081, db, log); err != nil {
		t.Fatalf("port change with no session running: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(home, "proxy-port")); strings.TrimSpace(string(b)) != "18081" {
		t.Errorf("remembered port %q, want 18081", b)
	}
}
