package compose

// FunctionBuild is the product Task: the seed's Job (fetch, render, build,
// verify in one pod) made of the four single-step Tasks, so each step is
// written once and the one-pod Task cannot drift from them.
var FunctionBuild = Spec{
	Name:        "function-build",
	Version:     "0.1",
	DisplayName: "Function build (S3 or git to a verified image)",
	Categories:  "Image Build",
	Tags:        "image-build, kaniko, s3, git, python, node, go, serverless",
	Description: "Builds a function's container image in one pod: fetch-code brings the code " +
		"from S3 (a prefix or an archive) or git into a scratch emptyDir, render-dockerfile " +
		"writes a hardened Dockerfile (or keeps the code's own), Kaniko builds and pushes it, " +
		"and verify-image proves the pushed image is the one built and meets policy. No PVC; " +
		"every step but Kaniko passes Pod Security restricted. Generated from the four " +
		"single-step Tasks (see README.md).",
	Parts: []Part{
		{Task: "fetch-code", Version: "0.1"},
		// render-dockerfile's BUILD_ARGS are names (declared as ARG), Kaniko's
		// are KEY=VALUE values: both are needed, under two names.
		{Task: "render-dockerfile", Version: "0.1", Rename: map[string]string{"BUILD_ARGS": "BUILD_ARG_NAMES"}},
		// Kaniko builds exactly the Dockerfile render-dockerfile chose, and
		// pushes it under the staging tag: IMAGE's own tag waits for verify.
		{Task: "kaniko-build", Version: "0.1", Wire: map[string]string{"DOCKERFILE": "DOCKERFILE"},
			Set: map[string]string{"STAGING_TAG": StagingTag}},
		// verify-image checks the digest Kaniko pushed, nothing a user passes,
		// and only then gives it IMAGE's tag.
		{Task: "verify-image", Version: "0.1", Wire: map[string]string{"IMAGE_URL": "IMAGE_URL", "IMAGE_DIGEST": "IMAGE_DIGEST"},
			Set: map[string]string{"PROMOTE": "true"}},
	},
	Scratch: []string{"source"},
}

// StagingTag is where function-build's Kaniko step pushes, in IMAGE's
// repository, before verification: only a verified image gets IMAGE's tag.
// Each build moves it; a rejected image keeps it until the next build.
const StagingTag = "unverified"

// Generated lists every generated Task: `make generate` writes them and the
// catalog lint checks them.
var Generated = []Spec{FunctionBuild}
