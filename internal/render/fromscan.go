package render

import (
	"regexp"
	"strings"
)

// maxReportedImages bounds BASE_IMAGES for a user's Dockerfile so the result
// stays within Tekton's result budget whatever the file holds.
const maxReportedImages = 16

var (
	parserDirective = regexp.MustCompile(`^#\s*[a-zA-Z][a-zA-Z0-9]*\s*=\s*\S.*$`)
	escapeDirective = regexp.MustCompile(`(?i)^#\s*escape\s*=\s*(\S)\s*$`)
)

// FromImages lists, in order and once each, the images the FROM lines of a
// Dockerfile name, leaving out references to earlier stages and scratch. It
// reports a user's Dockerfile for provenance (BASE_IMAGES); it does not
// expand ARGs, so "${BASE}" is reported as written.
func FromImages(dockerfile []byte) []string {
	lines := strings.Split(strings.ReplaceAll(string(dockerfile), "\r\n", "\n"), "\n")
	escape := `\`
	// Parser directives (# syntax=, # escape=) come first, before any other
	// line; only escape changes how lines join.
	for _, l := range lines {
		if !parserDirective.MatchString(l) {
			break
		}
		if m := escapeDirective.FindStringSubmatch(l); m != nil {
			escape = m[1]
		}
	}
	stages := map[string]bool{"scratch": true}
	seen := map[string]bool{}
	var images []string
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// Join continuation lines (comment lines inside are skipped, as
		// the Dockerfile parser does).
		for strings.HasSuffix(line, escape) && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			if strings.HasPrefix(next, "#") {
				continue
			}
			line = strings.TrimSuffix(line, escape) + " " + next
		}
		words := strings.Fields(line)
		if len(words) < 2 || !strings.EqualFold(words[0], "FROM") {
			continue
		}
		words = words[1:]
		for len(words) > 0 && strings.HasPrefix(words[0], "--") {
			words = words[1:] // --platform=...
		}
		if len(words) == 0 {
			continue
		}
		image := words[0]
		known := stages[strings.ToLower(image)] || seen[image] || checkText("image", image) != nil
		if len(words) >= 3 && strings.EqualFold(words[1], "AS") {
			stages[strings.ToLower(words[2])] = true
		}
		if known {
			continue
		}
		seen[image] = true
		images = append(images, image)
		if len(images) == maxReportedImages {
			break
		}
	}
	if images == nil {
		images = []string{}
	}
	return images
}
