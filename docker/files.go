package docker

import (
	"archive/tar"
	"bytes"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clauderon/clauderon"
)

// owner is a numeric uid:gid inside the container.
type owner struct{ uid, gid int }

// parseUser reads SessionSpec.User: "uid:gid", "uid" (gid = uid) or "" (root).
// Names are refused: FROM scratch images have no /etc/passwd to resolve them,
// and the files placed before start need numbers.
func parseUser(s string) (owner, error) {
	if s == "" {
		return owner{}, nil
	}
	u, g, hasGroup := strings.Cut(s, ":")
	uid, err1 := strconv.Atoi(u)
	gid := uid
	var err2 error
	if hasGroup {
		gid, err2 = strconv.Atoi(g)
	}
	if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return owner{}, clauderon.Errorf(clauderon.EINVALID, "invalid container user %q: use numeric uid:gid, e.g. 1000:1000", s)
	}
	return owner{uid, gid}, nil
}

// tarEntry is one directory or file of the tree placed in a container.
type tarEntry struct {
	dir   bool
	mode  int64
	owner owner
	data  []byte
}

// fsTree collects what Create places in a container before it starts, keyed
// by clean absolute path. Directories get explicit entries, parents included,
// so that FROM scratch images (which have no /home, /etc or /tmp) work and so
// that every directory has a known owner and mode.
type fsTree struct {
	user    owner
	home    string
	entries map[string]tarEntry
}

// specTree is the tree for spec: /tmp (1777), HOME (0700, the user's), the
// empty /workspace when no worktree is mounted there, and spec.Files.
// Writable files and directories below HOME belong to the user; everything
// else belongs to root, so the agent cannot change its CA certificate.
func specTree(spec clauderon.SessionSpec, user owner) (*fsTree, error) {
	home := spec.HomeDir
	if home == "" {
		home = clauderon.ContainerHome
	}
	if err := checkPath(home); err != nil {
		return nil, err
	}
	t := &fsTree{user: user, home: path.Clean(home), entries: map[string]tarEntry{}}
	if err := t.addDir("/tmp", 0o1777, owner{}); err != nil {
		return nil, err
	}
	if err := t.addDir(t.home, 0o700, user); err != nil {
		return nil, err
	}
	if spec.WorkDir == "" {
		if err := t.addDir(clauderon.ContainerWorkspace, 0o755, user); err != nil {
			return nil, err
		}
	}
	for _, f := range spec.Files {
		if err := t.addFile(f); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// checkPath refuses relative paths and paths with "..": the tree is extracted
// at "/", and an entry must land where the spec says.
func checkPath(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return clauderon.Errorf(clauderon.EINVALID, "invalid container path %q: use a clean absolute path such as /etc/clauderon/proxy-ca.pem", p)
	}
	return nil
}

// below reports whether p is dir or inside it.
func below(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// addParents adds the directories above p that are not in the tree yet:
// inside HOME they are the user's (agents create files next to theirs),
// elsewhere root's.
func (t *fsTree) addParents(p string) error {
	for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
		if e, ok := t.entries[dir]; ok {
			if !e.dir {
				return clauderon.Errorf(clauderon.EINVALID, "container path %s is both a file and a directory", dir)
			}
			continue
		}
		o := owner{}
		if below(dir, t.home) {
			o = t.user
		}
		t.entries[dir] = tarEntry{dir: true, mode: 0o755, owner: o}
	}
	return nil
}

func (t *fsTree) addDir(p string, mode int64, o owner) error {
	if e, ok := t.entries[p]; ok && !e.dir {
		return clauderon.Errorf(clauderon.EINVALID, "container path %s is both a file and a directory", p)
	}
	t.entries[p] = tarEntry{dir: true, mode: mode, owner: o}
	return t.addParents(p)
}

func (t *fsTree) addFile(f clauderon.SpecFile) error {
	if err := checkPath(f.Path); err != nil {
		return err
	}
	if _, ok := t.entries[f.Path]; ok {
		return clauderon.Errorf(clauderon.EINVALID, "container path %s is given twice", f.Path)
	}
	mode := int64(f.Mode & 0o7777)
	if mode == 0 {
		mode = 0o644
	}
	o := owner{}
	if f.Writable {
		o = t.user
	}
	t.entries[f.Path] = tarEntry{mode: mode, owner: o, data: f.Data}
	return t.addParents(f.Path)
}

// tar renders the tree as an archive to extract at "/". Parents come before
// children because a parent's path sorts before its children's.
func (t *fsTree) tar() ([]byte, error) {
	paths := make([]string, 0, len(t.entries))
	for p := range t.entries {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, p := range paths {
		e := t.entries[p]
		h := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    e.mode,
			Uid:     e.owner.uid,
			Gid:     e.owner.gid,
			ModTime: now,
			Format:  tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
