package step

import (
	"context"
	"os"
	"reflect"
	"strings"

	"github.com/sethvargo/go-envconfig"
)

// LoadConfig fills cfg (a pointer to a struct with `env:"..."` tags) from the
// process environment. Any problem is a CodeConfig error naming the variable.
func LoadConfig(ctx context.Context, cfg any) error {
	return LoadConfigFrom(ctx, cfg, envconfig.OsLookuper())
}

// LoadConfigFrom is LoadConfig with an explicit source, for tests.
//
// Any variable NAME may instead be given as NAME_FILE, the path of a file
// holding the value (its trailing newline dropped). Steps of one Task pass
// values to later steps this way: `IMAGE_DIGEST_FILE: $(results.IMAGE_DIGEST.path)`
// reads what an earlier step wrote, which Tekton cannot substitute in env.
func LoadConfigFrom(ctx context.Context, cfg any, lookuper envconfig.Lookuper) error {
	files := &fileLookuper{next: lookuper}
	err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: files})
	if files.err != nil {
		return files.err
	}
	if err != nil {
		return ConfigError("invalid configuration: %s", nameVariable(err.Error(), cfg))
	}
	return nil
}

// fileLookuper answers NAME from NAME_FILE when NAME itself is unset or empty.
type fileLookuper struct {
	next envconfig.Lookuper
	err  error
}

func (f *fileLookuper) Lookup(key string) (string, bool) {
	if v, ok := f.next.Lookup(key); ok && v != "" {
		return v, true
	}
	path, ok := f.next.Lookup(key + "_FILE")
	if !ok || path == "" {
		return f.next.Lookup(key)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if f.err == nil {
			f.err = ConfigError("%s_FILE: reading %s for %s: %v (an earlier step should have written it)", key, path, key, err)
		}
		return "", false
	}
	return strings.TrimRight(string(b), "\r\n"), true
}

// MapLookuper is a Lookuper over a map, for tests and for callers that build
// configuration programmatically.
func MapLookuper(m map[string]string) envconfig.Lookuper { return envconfig.MapLookuper(m) }

// nameVariable rewrites go-envconfig's "Field: problem" into "VARIABLE: problem":
// the user sets variables (Task params), they never see our Go field names.
func nameVariable(msg string, cfg any) string {
	field, rest, ok := strings.Cut(msg, ": ")
	if !ok {
		return msg
	}
	if v := envVarOf(reflect.TypeOf(cfg), field); v != "" {
		return v + ": " + rest
	}
	return msg
}

func envVarOf(t reflect.Type, field string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, ok := f.Tag.Lookup("env"); ok && f.Name == field {
			name, _, _ := strings.Cut(tag, ",")
			return strings.TrimSpace(name)
		}
		if f.Type.Kind() == reflect.Struct {
			if v := envVarOf(f.Type, field); v != "" {
				return v
			}
		}
	}
	return ""
}
