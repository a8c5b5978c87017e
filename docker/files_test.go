package docker

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/clauderon/clauderon"
)

func TestParseUser(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want owner
		ok   bool
	}{
		{"", owner{0, 0}, true},
		{"1000:1000", owner{1000, 1000}, true},
		{"1000:50", owner{1000, 50}, true},
		{"1000", owner{1000, 1000}, true},
		{"0:0", owner{0, 0}, true},
		{"node", owner{}, false},
		{"1000:staff", owner{}, false},
		{"-1:0", owner{}, false},
		{":", owner{}, false},
	} {
		got, err := parseUser(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseUser(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && clauderon.ErrorCode(err) != clauderon.EINVALID {
			t.Errorf("parseUser(%q) error code %q", tc.in, clauderon.ErrorCode(err))
		}
	}
}

type header struct {
	mode     int64
	uid, gid int
	dir      bool
	data     string
}

func readTar(t *testing.T, b []byte) (map[string]header, []string) {
	t.Helper()
	got := map[string]header{}
	var order []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got, order
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		got[h.Name] = header{h.Mode, h.Uid, h.Gid, h.Typeflag == tar.TypeDir, string(data)}
		order = append(order, h.Name)
	}
}

func TestSpecTree(t *testing.T) {
	spec := clauderon.SessionSpec{
		HomeDir: "/home/agent",
		Files: []clauderon.SpecFile{
			{Path: "/etc/clauderon/proxy-ca.pem", Data: []byte("ca"), Mode: 0o644},
			{Path: "/home/agent/.claude.json", Data: []byte("{}"), Mode: 0o600, Writable: true},
			{Path: "/home/agent/.config/tool/settings", Data: []byte("s")}, // Mode 0: 0644
		},
	}
	tree, err := specTree(spec, owner{1000, 1001})
	if err != nil {
		t.Fatal(err)
	}
	b, err := tree.tar()
	if err != nil {
		t.Fatal(err)
	}
	got, order := readTar(t, b)
	want := map[string]header{
		"etc/":                             {0o755, 0, 0, true, ""},
		"etc/clauderon/":                   {0o755, 0, 0, true, ""},
		"etc/clauderon/proxy-ca.pem":       {0o644, 0, 0, false, "ca"},
		"home/":                            {0o755, 0, 0, true, ""},
		"home/agent/":                      {0o700, 1000, 1001, true, ""},
		"home/agent/.claude.json":          {0o600, 1000, 1001, false, "{}"},
		"home/agent/.config/":              {0o755, 1000, 1001, true, ""},
		"home/agent/.config/tool/":         {0o755, 1000, 1001, true, ""},
		"home/agent/.config/tool/settings": {0o644, 0, 0, false, "s"},
		"tmp/":                             {0o1777, 0, 0, true, ""},
		"workspace/":                       {0o755, 1000, 1001, true, ""},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %+v, want %+v", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("entries %v, want %d", order, len(want))
	}
	seen := map[string]bool{}
	for _, name := range order {
		if parent := parentOf(name); parent != "" && !seen[parent] {
			t.Errorf("%s comes before its parent %s", name, parent)
		}
		seen[name] = true
	}
}

func parentOf(name string) string {
	trimmed := name
	if trimmed[len(trimmed)-1] == '/' {
		trimmed = trimmed[:len(trimmed)-1]
	}
	for i := len(trimmed) - 1; i >= 0; i-- {
		if trimmed[i] == '/' {
			return trimmed[:i+1]
		}
	}
	return ""
}

func TestSpecTreeDefaultsAndMountedWorkspace(t *testing.T) {
	tree, err := specTree(clauderon.SessionSpec{WorkDir: "/host/worktree"}, owner{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tree.tar()
	got, _ := readTar(t, b)
	if _, ok := got["workspace/"]; ok {
		t.Error("workspace created although a worktree is mounted there")
	}
	if h := got["home/clauderon/"]; !h.dir || h.mode != 0o700 {
		t.Errorf("default home: %+v", h)
	}
}

func TestSpecTreeRefuses(t *testing.T) {
	for name, files := range map[string][]clauderon.SpecFile{
		"relative":         {{Path: "etc/x"}},
		"dot-dot":          {{Path: "/etc/../x"}},
		"root":             {{Path: "/"}},
		"twice":            {{Path: "/etc/x"}, {Path: "/etc/x"}},
		"file under file":  {{Path: "/etc/x"}, {Path: "/etc/x/y"}},
		"file on home dir": {{Path: "/home/clauderon"}},
		"file on tmp":      {{Path: "/tmp"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := specTree(clauderon.SessionSpec{Files: files}, owner{})
			if clauderon.ErrorCode(err) != clauderon.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
		})
	}
}
