package verify

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// checkUser: the image does not run as root. Kubernetes' runAsNonRoot only
// trusts numeric users, so a name is resolved through the image's own
// /etc/passwd when the layers were read: USER admin with uid 0 is root.
func checkUser(cf *v1.ConfigFile, passwd []byte) Result {
	user := strings.TrimSpace(cf.Config.User)
	name, _, _ := strings.Cut(user, ":")
	const fix = ": add USER 65532 (or another non-zero uid) to the Dockerfile"
	switch {
	case name == "":
		return fail(CheckUser, "no USER set, so the container runs as root"+fix)
	case name == "root":
		return fail(CheckUser, "USER is %q"+fix, user)
	}
	if uid, err := strconv.ParseUint(name, 10, 32); err == nil {
		if uid == 0 {
			return fail(CheckUser, "USER %q is uid 0 (root)"+fix, user)
		}
		return pass(CheckUser, "runs as uid %d", uid)
	}
	if passwd == nil {
		return pass(CheckUser, "runs as user %q (no /etc/passwd read to resolve its uid)", user)
	}
	uid, found := lookupUID(passwd, name)
	switch {
	case !found:
		return fail(CheckUser, "USER %q is not in the image's /etc/passwd: the container would not start; use a numeric uid", user)
	case uid == "0":
		return fail(CheckUser, "USER %q has uid 0 in the image's /etc/passwd: it is root"+fix, user)
	}
	return pass(CheckUser, "runs as user %q (uid %s in /etc/passwd)", user, uid)
}

// lookupUID finds a user's uid field in passwd (name:x:uid:gid:...).
func lookupUID(passwd []byte, user string) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(passwd))
	sc.Buffer(make([]byte, 0, 4096), maxPasswdRead)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) >= 3 && f[0] == user {
			return strings.TrimSpace(f[2]), true
		}
	}
	return "", false
}

// checkCommand: the image says what to run.
func checkCommand(cf *v1.ConfigFile) Result {
	ep, cmd := cf.Config.Entrypoint, cf.Config.Cmd
	if len(ep) == 0 && len(cmd) == 0 {
		return fail(CheckEntrypoint, "neither ENTRYPOINT nor CMD is set: the container has nothing to run; add one to the Dockerfile")
	}
	return pass(CheckEntrypoint, "entrypoint %q, cmd %q", ep, cmd)
}

// checkPlatform: the config's os/architecture(/variant) is the one wanted.
func checkPlatform(cf *v1.ConfigFile, want v1.Platform) Result {
	got := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	if got.OS == "" || got.Architecture == "" {
		return fail(CheckPlatform, "config names no os/architecture (got %q), want %s: set the platform when building", got.String(), &want)
	}
	if !got.Satisfies(v1.Platform{OS: want.OS, Architecture: want.Architecture, Variant: want.Variant}) {
		return fail(CheckPlatform, "image is %s, want %s: build for %s or change PLATFORM", got.String(), &want, &want)
	}
	return pass(CheckPlatform, "%s", got.String())
}

// checkLabels: every label policy requires is present and not empty.
func checkLabels(cf *v1.ConfigFile, required []string) Result {
	var missing []string
	for _, l := range required {
		if strings.TrimSpace(cf.Config.Labels[l]) == "" {
			missing = append(missing, strconv.Quote(l))
		}
	}
	if len(missing) > 0 {
		return fail(CheckLabels, "missing or empty labels: %s: add LABEL lines to the Dockerfile (or --label to the build)", strings.Join(missing, ", "))
	}
	return pass(CheckLabels, "labels present: %s", strings.Join(required, ", "))
}
