// Command baseline is what the fetch-code benchmark measures fetch-code
// against besides awscli, and the probes it uses to find where the time goes.
// Each mode is its own process so that its wall time and peak RSS are its own.
//
//	baseline get BUCKET PREFIX DEST   the plain fetcher: ListObjectsV2 paginator +
//	                                  32 GetObject workers, SDK defaults, files to DEST
//	baseline discard BUCKET PREFIX    the same, bodies to io.Discard (no disk)
//	baseline list BUCKET PREFIX       the listing alone
//	baseline write SRC DEST [fsync]   copy a local folder's files with 32 workers
//	                                  (the disk alone; fsync each file if asked)
//
// S3 settings come from the environment: S3_ENDPOINT, AWS_* (as for fetch-code).
package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const workers = 32

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("usage: baseline get|discard|list BUCKET PREFIX [DEST] | write SRC DEST [fsync]")
	}
	ctx := context.Background()
	switch args[0] {
	case "write":
		return writeLocal(args[1], args[2], len(args) > 3 && args[3] == "fsync")
	case "list":
		client, err := newClient(ctx)
		if err != nil {
			return err
		}
		n := 0
		return list(ctx, client, args[1], args[2], func(string) error { n++; return nil })
	case "get", "discard":
		client, err := newClient(ctx)
		if err != nil {
			return err
		}
		dest := ""
		if args[0] == "get" {
			if len(args) < 4 {
				return fmt.Errorf("get needs DEST")
			}
			dest = args[3]
		}
		return getAll(ctx, client, args[1], args[2], dest)
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

func newClient(ctx context.Context) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(os.Getenv("S3_ENDPOINT"))
		o.UsePathStyle = true
	}), nil
}

func list(ctx context.Context, client *s3.Client, bucket, prefix string, emit func(string) error) error {
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			if err := emit(aws.ToString(o.Key)); err != nil {
				return err
			}
		}
	}
	return nil
}

// getAll is the plain fetcher: what anyone writes first.
func getAll(ctx context.Context, client *s3.Client, bucket, prefix, dest string) error {
	return parallel(func(emit func(string) error) error {
		return list(ctx, client, bucket, prefix, emit)
	}, func(key string) error {
		return getOne(ctx, client, bucket, key, prefix, dest)
	})
}

// parallel runs do on every item produce emits, with 32 workers; the first
// error wins.
func parallel(produce func(emit func(string) error) error, do func(string) error) error {
	items := make(chan string, workers)
	errs := make(chan error, workers+1)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for item := range items {
				if err := do(item); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	errs <- produce(func(item string) error { items <- item; return nil })
	close(items)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func getOne(ctx context.Context, client *s3.Client, bucket, key, prefix, dest string) error {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	if dest == "" {
		_, err = io.Copy(io.Discard, out.Body)
		return err
	}
	path := filepath.Join(dest, strings.TrimPrefix(key, prefix))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, out.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeLocal copies src's files into dest with 32 workers: the cost of
// creating and writing the files alone, with no network.
func writeLocal(src, dest string, fsync bool) error {
	return parallel(func(emit func(string) error) error {
		return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			return emit(rel)
		})
	}, func(rel string) error {
		return copyFile(filepath.Join(src, rel), filepath.Join(dest, rel), fsync)
	})
}

// copyFile writes from memory, as a fetcher does (no copy_file_range).
func copyFile(from, to string, fsync bool) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := out.Write(b); err != nil {
		out.Close()
		return err
	}
	if fsync {
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
	}
	return out.Close()
}
