// Package bundle builds and pushes Tekton bundles (OCI images holding Tasks,
// Pipelines and StepActions) for the end-to-end tests, following the bundle
// contract `tkn bundle push` implements: a Docker v2 manifest, one layer per
// object holding a tar with one file named after the object (its JSON), and
// the dev.tekton.image.{apiVersion,kind,name} annotations on each layer.
// The catalog's release bundles are built under catalog/.
package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"sigs.k8s.io/yaml"

	"github.com/knative-lambda/lambda-builder/tests/images"
)

// MaxObjects is the most objects Tekton reads from one bundle.
const MaxObjects = 20

// Layer annotations Tekton's bundle resolver looks objects up by.
const (
	APIVersionAnnotation = "dev.tekton.image.apiVersion"
	KindAnnotation       = "dev.tekton.image.kind"
	NameAnnotation       = "dev.tekton.image.name"
)

// Image makes a bundle of the given YAML (or JSON) documents, one object each.
func Image(docs ...[]byte) (v1.Image, error) {
	if len(docs) == 0 || len(docs) > MaxObjects {
		return nil, fmt.Errorf("a bundle holds 1 to %d objects, got %d", MaxObjects, len(docs))
	}
	img := empty.Image
	for i, doc := range docs {
		add, err := addendum(doc)
		if err != nil {
			return nil, fmt.Errorf("bundle object %d: %w", i+1, err)
		}
		if img, err = mutate.Append(img, add); err != nil {
			return nil, err
		}
	}
	// A fixed creation time: the same objects give the same digest.
	return mutate.CreatedAt(img, v1.Time{Time: time.Unix(0, 0)})
}

// addendum is one object's layer: a tar holding the object's JSON in a file
// named after it, annotated with its version, lower-case kind and name.
func addendum(doc []byte) (mutate.Addendum, error) {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	raw, err := yaml.YAMLToJSON(doc)
	if err == nil {
		err = yaml.Unmarshal(raw, &meta)
	}
	if err != nil {
		return mutate.Addendum{}, fmt.Errorf("decoding: %w", err)
	}
	if !strings.HasPrefix(meta.APIVersion, "tekton.dev/") || meta.Kind == "" || meta.Metadata.Name == "" {
		return mutate.Addendum{}, fmt.Errorf("need a tekton.dev object with a kind and metadata.name, got apiVersion %q kind %q name %q",
			meta.APIVersion, meta.Kind, meta.Metadata.Name)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: meta.Metadata.Name, Mode: 0o600, Size: int64(len(raw)), Typeflag: tar.TypeReg}); err != nil {
		return mutate.Addendum{}, err
	}
	if _, err := tw.Write(raw); err != nil {
		return mutate.Addendum{}, err
	}
	if err := tw.Close(); err != nil {
		return mutate.Addendum{}, err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return mutate.Addendum{}, err
	}
	return mutate.Addendum{Layer: layer, Annotations: map[string]string{
		APIVersionAnnotation: strings.TrimPrefix(meta.APIVersion, "tekton.dev/"),
		KindAnnotation:       strings.ToLower(meta.Kind),
		NameAnnotation:       meta.Metadata.Name,
	}}, nil
}

// Push builds the bundle of docs, pushes it to ref and returns ref's
// repository @ the bundle's digest (what a pipelineRef should pin).
func Push(ctx context.Context, ref string, docs ...[]byte) (string, error) {
	img, err := Image(docs...)
	if err != nil {
		return "", err
	}
	return images.Push(ctx, img, ref)
}
