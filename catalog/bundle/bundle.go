// Package bundle builds and pushes Tekton bundles: OCI images holding one
// Tekton object per layer, read by Tekton's bundles resolver.
//
// The image is built exactly as `tkn bundle push` (tektoncd/cli v0.46.0,
// pkg/bundle) builds it, so that the same resources give the same manifest
// digest whichever tool pushed them: a team can re-push with tkn and compare.
// Each detail below (the JSON form of an object, the tar header, the layer
// order, the created time) is there for that parity; tests check it against
// the real tkn.
package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned/scheme"
	tkremote "github.com/tektoncd/pipeline/pkg/remote/oci"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// MaxObjects is the most objects Tekton's resolvers accept in one bundle.
const MaxObjects = tkremote.MaximumBundleObjects

// Object is one resource placed in the bundle.
type Object struct {
	Kind       string // lowercase singular, as the annotation has it: task, pipeline, stepaction
	APIVersion string // the version part: v1, v1beta1
	Name       string
	JSON       []byte // the exact bytes of the layer's single file
}

// Build makes the bundle image from files (each the content of one YAML or
// JSON file, possibly multi-document), created at ctime (Unix 0 for
// reproducible bundles, as tkn's default).
func Build(files []string, ctime time.Time) (v1.Image, []Object, error) {
	// Empty, non-nil maps as tkn passes them when no --annotate or --label is given.
	img, err := mutate.Config(mutate.Annotations(empty.Image, map[string]string{}).(v1.Image), v1.Config{Labels: map[string]string{}})
	if err != nil {
		return nil, nil, err
	}
	// tkn orders files by the sha256 of their content: the layer order, and so
	// the digest, does not depend on the order files are given in.
	sorted := append([]string(nil), files...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sha256.Sum256([]byte(sorted[i])), sha256.Sum256([]byte(sorted[j]))
		return bytes.Compare(a[:], b[:]) < 0
	})
	var objects []Object
	for _, content := range sorted {
		objs, err := decode(content)
		if err != nil {
			return nil, nil, err
		}
		objects = append(objects, objs...)
	}
	if len(objects) > MaxObjects {
		return nil, nil, fmt.Errorf("the bundle would hold %d objects; Tekton's resolvers accept at most %d: split the catalog into several bundles", len(objects), MaxObjects)
	}
	seen := map[string]bool{}
	for _, o := range objects {
		if key := o.Kind + "/" + o.Name; seen[key] {
			return nil, nil, fmt.Errorf("%s %q appears twice: a bundle is looked up by kind and name", o.Kind, o.Name)
		} else {
			seen[key] = true
		}
		layer, err := objectLayer(o)
		if err != nil {
			return nil, nil, err
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer: layer,
			Annotations: map[string]string{
				tkremote.APIVersionAnnotation: o.APIVersion,
				tkremote.KindAnnotation:       o.Kind,
				tkremote.TitleAnnotation:      o.Name,
			},
		})
		if err != nil {
			return nil, nil, fmt.Errorf("adding %s %s: %w", o.Kind, o.Name, err)
		}
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: ctime})
	if err != nil {
		return nil, nil, err
	}
	return img, objects, nil
}

// decode splits a file into Tekton objects with the decoder tkn uses: the
// JSON it produces (keys sorted) is what goes into the layer.
func decode(content string) ([]Object, error) {
	dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(content), 4096)
	codec := serializer.NewCodecFactory(scheme.Scheme).UniversalDeserializer()
	var out []Object
	for {
		var raw runtime.RawExtension
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("not YAML or JSON: %w", err)
		}
		raw.Raw = bytes.TrimSpace(raw.Raw)
		if len(raw.Raw) == 0 || bytes.Equal(raw.Raw, []byte("null")) {
			continue
		}
		obj, gvk, err := codec.Decode(raw.Raw, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("not a Tekton object: %w", err)
		}
		m, ok := obj.(metav1.Object)
		if !ok || m.GetName() == "" {
			return nil, fmt.Errorf("%s without metadata.name cannot be looked up in a bundle", gvk.Kind)
		}
		out = append(out, Object{Kind: strings.ToLower(gvk.Kind), APIVersion: gvk.Version, Name: m.GetName(), JSON: raw.Raw})
	}
}

// objectLayer is a tar with the object's JSON as its one file, named after
// the object, mode 0600, no timestamps: tkn's exact header.
func objectLayer(o Object) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: o.Name, Mode: 0o600, Size: int64(len(o.JSON)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(o.JSON); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// Push writes the bundle to ref and returns ref's repository @ digest.
func Push(ctx context.Context, img v1.Image, ref string, opts ...remote.Option) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("bundle reference %q: %w", ref, err)
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.Write(r, img, opts...); err != nil {
		return "", fmt.Errorf("pushing bundle %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return r.Context().Digest(d.String()).String(), nil
}
