package docker

import (
	"archive/tar"
	"bytes"
	"time"
)

// ContextFile is one file of a build context.
type ContextFile struct {
	Name string
	Mode int64
	Data []byte
}

// BuildContext packs files into the tar stream BuildImage reads. Every file
// gets the same timestamp, so the same files give the same bytes.
func BuildContext(files ...ContextFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: f.Mode, Size: int64(len(f.Data)), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
