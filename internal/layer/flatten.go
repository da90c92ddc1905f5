package layer

import (
	"archive/tar"
	"io"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Entry is one path of an image's flattened file system.
type Entry struct {
	Header  *tar.Header
	Content string // regular files up to the size Flatten was given
}

// Flatten reads the file system a container of img would see (whiteouts
// applied), by absolute path, keeping the content of regular files of at
// most maxContent bytes.
func Flatten(img v1.Image, maxContent int64) (map[string]Entry, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]Entry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		e := Entry{Header: h}
		if h.Typeflag == tar.TypeReg && h.Size <= maxContent {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			e.Content = string(b)
		}
		files[path.Clean("/"+h.Name)] = e
	}
}
