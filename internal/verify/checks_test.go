package verify

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestCheckUser(t *testing.T) {
	passwd := []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\ntoor:x:0:0::/root:/bin/sh\n")
	tests := []struct {
		user   string
		passwd []byte
		ok     bool
		detail string
	}{
		{user: "", ok: false, detail: "no USER"},
		{user: "  ", ok: false, detail: "no USER"},
		{user: "root", ok: false, detail: `"root"`},
		{user: "root:1000", ok: false, detail: `"root:1000"`},
		{user: "0", ok: false, detail: "uid 0"},
		{user: "0:0", ok: false, detail: "uid 0"},
		{user: "000", ok: false, detail: "uid 0"},
		{user: "65532", ok: true, detail: "uid 65532"},
		{user: "65532:0", ok: true, detail: "uid 65532"}, // group root is fine (OpenShift's convention)
		{user: "app", passwd: passwd, ok: true, detail: "uid 1000"},
		{user: "toor", passwd: passwd, ok: false, detail: "uid 0 in the image's /etc/passwd"},
		{user: "ghost", passwd: passwd, ok: false, detail: "not in the image's /etc/passwd"},
		{user: "app", ok: true, detail: "no /etc/passwd read"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			cf := &v1.ConfigFile{Config: v1.Config{User: tt.user}}
			r := checkUser(cf, tt.passwd)
			if r.OK != tt.ok || r.Skipped != "" || !strings.Contains(r.Detail, tt.detail) || r.Check != CheckUser {
				t.Errorf("checkUser(%q) = %+v, want ok=%v detail ~ %q", tt.user, r, tt.ok, tt.detail)
			}
		})
	}
}

func TestConfigChecks(t *testing.T) {
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	armv7 := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	cfg := func(edit func(*v1.ConfigFile)) *v1.ConfigFile {
		cf := &v1.ConfigFile{OS: "linux", Architecture: "amd64", Config: v1.Config{Entrypoint: []string{"/app"}, Labels: map[string]string{"a": "1", "empty": " "}}}
		edit(cf)
		return cf
	}
	none := func(*v1.ConfigFile) {}
	tests := []struct {
		name   string
		got    Result
		ok     bool
		detail string
	}{
		{"entrypoint set", checkCommand(cfg(none)), true, `"/app"`},
		{"cmd alone is enough", checkCommand(cfg(func(c *v1.ConfigFile) { c.Config.Entrypoint, c.Config.Cmd = nil, []string{"python", "main.py"} })), true, "python"},
		{"nothing to run", checkCommand(cfg(func(c *v1.ConfigFile) { c.Config.Entrypoint = nil })), false, "neither"},
		{"platform matches", checkPlatform(cfg(none), amd64), true, "linux/amd64"},
		{"wrong architecture", checkPlatform(cfg(func(c *v1.ConfigFile) { c.Architecture = "arm64" }), amd64), false, "image is linux/arm64, want linux/amd64"},
		{"wrong os", checkPlatform(cfg(func(c *v1.ConfigFile) { c.OS = "windows" }), amd64), false, "windows/amd64"},
		{"no platform in config", checkPlatform(cfg(func(c *v1.ConfigFile) { c.OS, c.Architecture = "", "" }), amd64), false, "names no os/architecture"},
		{"variant wanted and matching", checkPlatform(cfg(func(c *v1.ConfigFile) { c.Architecture, c.Variant = "arm", "v7" }), armv7), true, "linux/arm/v7"},
		{"variant wanted, other variant", checkPlatform(cfg(func(c *v1.ConfigFile) { c.Architecture, c.Variant = "arm", "v6" }), armv7), false, "want linux/arm/v7"},
		{"labels present", checkLabels(cfg(none), []string{"a"}), true, "a"},
		{"label missing or blank", checkLabels(cfg(none), []string{"a", "b", "empty"}), false, `"b", "empty"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.OK != tt.ok || !strings.Contains(tt.got.Detail, tt.detail) {
				t.Errorf("got %+v, want ok=%v detail ~ %q", tt.got, tt.ok, tt.detail)
			}
		})
	}
}
