package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/clauderon/clauderon/sqlite"
)

// crashDBEnv tells the helper child which database to write to.
const crashDBEnv = "CLAUDERON_SQLITE_CRASH_CHILD_DB"

// TestCrashLosesNoCreatedSession kills a process that is creating sessions
// (SIGKILL: no deferred Close, no cleanup, possibly mid-transaction) and
// checks that every session it reported created is in the database.
//
// A killed process leaves the kernel's page cache intact, so this proves that
// a commit has reached the file (the WAL) before CreateSession returns; that
// it also survives a power cut rests on synchronous=FULL, which
// TestOpenSettingsOnEveryConnection checks on every connection.
func TestCrashLosesNoCreatedSession(t *testing.T) {
	t.Parallel()
	const killAfter = 200
	path := tempPath(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDBEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var created []string
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		name, ok := strings.CutPrefix(sc.Text(), "created ")
		if !ok {
			continue // the test framework's own output
		}
		created = append(created, name)
		if len(created) == killAfter && !killed {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
		// Lines already in the pipe were printed before the kill, after
		// their CreateSession returned: they count too.
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited (%v) after %d sessions, before it was killed", err, len(created))
	}

	db := MustOpen(t, path) // recovers the WAL
	ctx := context.Background()
	for _, name := range created {
		if _, err := db.GetSession(ctx, name); err != nil {
			t.Errorf("session %s was reported created but is gone: %v", name, err)
		}
	}
	t.Logf("%d sessions reported created before SIGKILL, all present", len(created))
}

// TestHelperCrashChild is the child process of TestCrashLosesNoCreatedSession;
// run on its own it does nothing.
func TestHelperCrashChild(t *testing.T) {
	path := os.Getenv(crashDBEnv)
	if path == "" {
		t.Skip("helper process for TestCrashLosesNoCreatedSession; runs only as its child")
	}
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	// Runs until the parent kills it; the bound only stops a runaway child
	// if the parent died first.
	for i := range 100000 {
		name := fmt.Sprintf("crash-%d", i)
		if err := db.CreateSession(context.Background(), minimalSession(name)); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("created %s\n", name) // os.Stdout is unbuffered: one write per line
	}
}
