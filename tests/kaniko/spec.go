package kanikotest

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
)

// Bind is a host folder mounted into the container.
type Bind struct {
	Source, Destination string
	ReadOnly            bool
}

// SpecInput is what the OCI spec is made from: the resolved step, the
// image's config, and the host side of every mount.
type SpecInput struct {
	Step     *Step
	Image    v1.Config
	Binds    []Bind
	Hostname string
	NoFile   uint64 // RLIMIT_NOFILE, within the host's hard limit
}

// Capabilities maps Kubernetes names (CHOWN) to the kernel's (CAP_CHOWN) the
// way containerd's CRI does: drop ALL starts from none, then add.
func Capabilities(sc *corev1.SecurityContext) []string {
	// Without "drop: ALL" a runtime starts from its default set; the Kaniko
	// step always drops ALL (catalog/lint enforces it), so only that case is modelled.
	var out []string
	if sc == nil || sc.Capabilities == nil {
		return out
	}
	for _, c := range sc.Capabilities.Add {
		name := "CAP_" + strings.ToUpper(string(c))
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Spec builds the OCI runtime spec for the step: what containerd's CRI
// plugin would give the container (namespaces but the network one, default
// mounts, masked paths, the RuntimeDefault seccomp profile), with the step's
// command, env, user, capabilities and privilege escalation.
func Spec(in SpecInput) (*specs.Spec, error) {
	st := in.Step
	sc := st.SecurityContext
	if sc == nil {
		return nil, fmt.Errorf("step %s has no securityContext", st.Name)
	}
	args := append(append([]string{}, st.Command...), st.Args...)
	if len(st.Command) == 0 {
		args = append(append([]string{}, in.Image.Entrypoint...), st.Args...)
		if len(st.Args) == 0 {
			args = append(args, in.Image.Cmd...)
		}
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("step %s has no command and the image no entrypoint", st.Name)
	}
	cwd := st.WorkingDir
	if cwd == "" {
		cwd = in.Image.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	uid, gid := uint32(0), uint32(0)
	if sc.RunAsUser != nil {
		uid = uint32(*sc.RunAsUser)
	}
	if sc.RunAsGroup != nil {
		gid = uint32(*sc.RunAsGroup)
	}
	caps := Capabilities(sc)
	noNewPrivs := sc.AllowPrivilegeEscalation == nil || !*sc.AllowPrivilegeEscalation
	readOnly := sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	if sc.Privileged != nil && *sc.Privileged {
		return nil, fmt.Errorf("step %s is privileged: not modelled (and not allowed by catalog/lint)", st.Name)
	}

	s := &specs.Spec{
		Version:  specs.Version,
		Hostname: in.Hostname,
		Root:     &specs.Root{Path: "rootfs", Readonly: readOnly},
		Process: &specs.Process{
			Args: args,
			Env:  mergeEnv(in.Image.Env, st.Env),
			Cwd:  cwd,
			User: specs.User{UID: uid, GID: gid, AdditionalGids: []uint32{gid}},
			// containerd leaves inheritable and ambient empty (CVE-2022-24769).
			Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			NoNewPrivileges: noNewPrivs,
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: in.NoFile, Soft: in.NoFile}},
		},
		Mounts: defaultMounts(),
		Linux: &specs.Linux{
			// No network namespace: the registry under test listens on the
			// host's 127.0.0.1 (a pod would reach its registry over its own network).
			Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace}},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
				"/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi", "/sys/devices/virtual/powercap"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
		},
	}
	if lim := st.ComputeResources.Limits; lim != nil {
		if m := lim.Memory(); !m.IsZero() {
			bytes := m.Value()
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &bytes}
		}
		if c := lim.Cpu(); !c.IsZero() {
			period := uint64(100000)
			quota := c.MilliValue() * int64(period) / 1000
			s.Linux.Resources.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
		}
	}
	for _, b := range in.Binds {
		opts := []string{"rbind", "rw"}
		if b.ReadOnly {
			opts = []string{"rbind", "ro"}
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: b.Destination, Type: "bind", Source: b.Source, Options: opts})
	}
	slices.SortStableFunc(s.Mounts, func(a, b specs.Mount) int {
		return strings.Count(path.Clean(a.Destination), "/") - strings.Count(path.Clean(b.Destination), "/")
	})
	switch {
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined:
	case sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault:
		// containerd's CRI applies exactly this for RuntimeDefault; the profile
		// depends on the capabilities, so it is made after them.
		s.Linux.Seccomp = seccomp.DefaultProfile(s)
	default:
		return nil, fmt.Errorf("seccomp profile %s is not modelled", sc.SeccompProfile.Type)
	}
	return s, nil
}

// mergeEnv is the image's env overridden by the container's, as the kubelet
// and containerd do.
func mergeEnv(image []string, step []corev1.EnvVar) []string {
	out := append([]string{}, image...)
	for _, e := range step {
		kv := e.Name + "=" + e.Value
		if i := slices.IndexFunc(out, func(s string) bool { return strings.HasPrefix(s, e.Name+"=") }); i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

// defaultMounts are containerd's (oci.populateDefaultUnixSpec) plus the
// resolv.conf and hosts the kubelet mounts.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: "/etc/resolv.conf", Options: []string{"rbind", "ro"}},
		{Destination: "/etc/hosts", Type: "bind", Source: "/etc/hosts", Options: []string{"rbind", "ro"}},
	}
}
