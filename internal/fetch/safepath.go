package fetch

import (
	"path"
	"strings"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// ReasonUnsafePath is the exit reason of a name the fetcher refuses to write.
const ReasonUnsafePath = "UnsafePath"

// cleanPath turns a name from the outside (an S3 key below the prefix, an
// archive entry, a git tree path) into a slash-separated path relative to the
// destination, or refuses it. The same rules hold for every source:
//   - no absolute paths and no ".." component, even one that cleaning would
//     fold away ("a/../b"): a name that needs ".." is crafted, not uploaded;
//   - no backslash: Windows tools read it as a separator ("..\..\x");
//   - no NUL byte;
//   - "." components and repeated slashes are folded ("./a//b" is "a/b").
//
// what names the kind of name for the error ("archive entry").
// It returns "" for a name that is the root itself ("./", the prefix).
func cleanPath(what, name string) (string, error) {
	return cleanPathAs(what, name, name)
}

// cleanPathAs is cleanPath for a name shown differently in errors (an S3 key
// is cleaned below the prefix but shown whole).
func cleanPathAs(what, shown, name string) (string, error) {
	refuse := func(why string) error {
		return step.Errorf(step.CodeInput, ReasonUnsafePath, "%s %q %s; refusing to write it", what, shown, why)
	}
	switch {
	case strings.ContainsRune(name, 0):
		return "", refuse("contains a NUL byte")
	case strings.ContainsRune(name, '\\'):
		return "", refuse("contains a backslash (a path separator on Windows)")
	case strings.HasPrefix(name, "/"):
		return "", refuse("is an absolute path")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", refuse("has a \"..\" component that leaves the destination")
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// linkTargetInside reports whether a symlink at link (a clean relative path)
// pointing at target stays inside the tree when read lexically. Symlinks met
// on the way are resolved later, on the whole tree (see Tree.checkSymlinks).
func linkTargetInside(link, target string) bool {
	if target == "" || strings.HasPrefix(target, "/") || strings.ContainsRune(target, 0) {
		return false
	}
	joined := path.Join(path.Dir(link), target)
	return joined != ".." && !strings.HasPrefix(joined, "../")
}
