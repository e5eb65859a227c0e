package deploy_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// repoRoot is the module root, seen from deploy/.
const repoRoot = ".."

// skipDirs are never documentation: build output, the development stack's
// state, version control.
var skipDirs = []string{".git", "bin", ".run", "node_modules"}

// citedMarkdown matches a path of the form *.md in prose: a file name or a
// relative path. Not part of a URL or of an absolute or home path (the
// character before it is not ':', '/' or '~': those name files on a
// server, not in the repository), and without glob or template characters.
var citedMarkdown = regexp.MustCompile("(?:^|[\\s\"'`(\\[<,])((?:\\.{1,2}/)?[A-Za-z0-9_][A-Za-z0-9_.\\-/]*\\.md)(?:$|[^A-Za-z0-9_\\-/])")

// citedRepoPath matches a path into the repository's source folders, as docs
// and comments name packages, programs and files: services/flex-auth/cmd/loadgen,
// ./deploy/cmd/gen, configs/ops-warden/. followedByPattern marks the ones
// that go on as a pattern (deploy/tools/install-*.sh, services/<svc>/...).
var (
	citedRepoPath     = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./-])(?:\./)?((?:api|configs|deploy|pkg|services)/[A-Za-z0-9_.\-/]*[A-Za-z0-9_/])`)
	followedByPattern = regexp.MustCompile(`^[-*<{$]`)
	goIdentifier      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// notCitations are *.md names that name something other than a file of the
// repository, per citing file.
var notCitations = map[string][]string{
	// Keys of the policy ConfigMap the chart mounts.
	"deploy/helm/flex-auth/values.yaml": {"policy_package.md"},
}

// markdownLink matches an inline link or image target, and a reference
// definition ("[name]: target").
var (
	markdownLink  = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	referenceLink = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	schemeLink    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// TestDocsCiteExistingFiles fails when a document or comment of the
// repository points at something that is not in it: every relative link
// of every Markdown file must name an existing file or directory (and a
// heading of the target when it has a #fragment), and every *.md path and
// every path into api/, configs/, deploy/, pkg/ or services/ cited in
// Markdown, in Go comments and in the comments of YAML and shell files
// must exist (the *.md ones relative to the citing file or to the module
// root).
func TestDocsCiteExistingFiles(t *testing.T) {
	files := repoFiles(t)
	checked := 0
	for _, file := range files {
		rel, _ := filepath.Rel(repoRoot, file)
		var problems []string
		switch ext := filepath.Ext(file); {
		case ext == ".md":
			text := readFile(t, file)
			problems = append(brokenLinks(file, text), missingCitations(file, text)...)
		case ext == ".go":
			problems = missingCitations(file, goComments(t, file))
		case ext == ".yaml" || ext == ".yml" || ext == ".sh" || rel == filepath.Join(".ci", "run"):
			problems = missingCitations(file, hashComments(readFile(t, file)))
		default:
			continue
		}
		checked++
		for _, p := range problems {
			if !slices.ContainsFunc(notCitations[filepath.ToSlash(rel)], func(name string) bool { return strings.HasPrefix(p, "cites "+name+",") }) {
				t.Errorf("%s: %s", rel, p)
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d files checked: the walk from %s is broken", checked, repoRoot)
	}
}

// TestCitationChecksCatchMistakes pins the checks on the mistakes they are
// for, so that a broken pattern cannot make TestDocsCiteExistingFiles pass
// vacuously.
func TestCitationChecksCatchMistakes(t *testing.T) {
	file := filepath.Join(repoRoot, "deploy", "README.md")
	for _, c := range []struct {
		name, text string
		problems   int
	}{
		{"existing file", "[runbook](runbooks/registry-token.md)", 0},
		{"existing heading", "[rotation](runbooks/registry-token.md#signing-key-rotation)", 0},
		{"heading of this file", "## Images\n[images](#images)", 0},
		{"directory", "[charts](helm/)", 0},
		{"from the root", "[root](/README.md)", 0},
		{"parent", "[root](../README.md) and ../services/flex-auth/README.md", 0},
		{"server paths", "--policy /etc/flex-auth/policy/policy_package.md, ~/ops-warden/wiki/Page.md", 0},
		{"URL", "[spec](https://openid.net/specs/authorization-api-1_0.md) https://example.com/NOTES.md", 0},
		{"glob", "the `*.md` files", 0},
		{"code block heading is not a heading", "[x](#skopeo-the-token-itself)\n```sh\n# skopeo: the token itself\n```", 1},
		{"missing file", "[notes](NOTES.md)", 2},
		{"missing heading", "[rotation](runbooks/registry-token.md#no-such-section)", 1},
		{"missing heading of this file", "[x](#no-such-section)", 1},
		{"missing directory", "[x](no-such-dir/)", 1},
		{"reference link", "[notes]: ../NOTES.md", 2},
		{"cited in prose", "see NOTES.md, or `docs/architecture.md`", 2},
		{"repository paths", "`go run ./services/flex-auth/cmd/loadgen`, configs/ops-warden/, api/schemas/entities.schema.json.", 0},
		{"Go identifier", "`pkg/dpop.Transport` and pkg/policy.Request", 0},
		{"patterns", "deploy/tools/install-*.sh, services/<svc>/README.md, deploy/helm/{{.Chart}}", 0},
		{"moved program", "`go run ./services/flex-auth/internal/loadgen/cmd -duration 1s`", 1},
		{"missing package", "pkg/redistest and pkg/dpop.transport/x", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := append(brokenLinks(file, c.text), missingCitations(file, c.text)...)
			if len(got) != c.problems {
				t.Errorf("%q: %d problems, want %d: %q", c.text, len(got), c.problems, got)
			}
		})
	}
	for _, c := range []struct{ heading, anchor string }{
		{"## Live reload of registry-token", "live-reload-of-registry-token"},
		{"### DPoP-bound OpToks: `registry-token-helper`", "dpop-bound-optoks-registry-token-helper"},
		{"## flex-auth for other policy enforcement points (AuthZEN)", "flex-auth-for-other-policy-enforcement-points-authzen"},
		{"## Using docker, podman, skopeo, helm, oras and crane", "using-docker-podman-skopeo-helm-oras-and-crane"},
		{"## flex-auth's decision log", "flex-auths-decision-log"},
	} {
		if got := anchors(c.heading + "\n"); !got[c.anchor] {
			t.Errorf("%q: anchors %v, want %s", c.heading, got, c.anchor)
		}
	}
	if got := goCommentText("package x\n\n// See NOTES.md.\nvar s = \"p.md\"\n"); strings.Contains(got, "p.md") || !strings.Contains(got, "NOTES.md") {
		t.Errorf("Go comments: %q", got)
	}
	if got := hashComments("policy: p.md # see NOTES.md\n"); strings.Contains(got, "p.md") || !strings.Contains(got, "NOTES.md") {
		t.Errorf("hash comments: %q", got)
	}
}

// repoFiles lists the files of the module, without build output.
func repoFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != repoRoot && slices.Contains(skipDirs, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		files = append(files, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// brokenLinks returns the relative link targets of a Markdown text that do
// not exist, outside fenced code blocks.
func brokenLinks(file, text string) []string {
	prose := withoutCodeBlocks(text)
	var targets []string
	for _, m := range markdownLink.FindAllStringSubmatch(prose, -1) {
		targets = append(targets, m[1])
	}
	for _, m := range referenceLink.FindAllStringSubmatch(prose, -1) {
		targets = append(targets, m[1])
	}
	var problems []string
	for _, target := range targets {
		if schemeLink.MatchString(target) {
			continue
		}
		path, fragment, _ := strings.Cut(target, "#")
		resolved := file
		if path != "" {
			resolved = resolve(file, path)
			if _, err := os.Stat(resolved); err != nil {
				problems = append(problems, fmt.Sprintf("link %s: no such file or directory", target))
				continue
			}
		}
		if fragment == "" || filepath.Ext(resolved) != ".md" {
			continue
		}
		doc := text
		if resolved != file {
			raw, err := os.ReadFile(resolved)
			if err != nil {
				problems = append(problems, fmt.Sprintf("link %s: %v", target, err))
				continue
			}
			doc = string(raw)
		}
		if !anchors(doc)[fragment] {
			problems = append(problems, fmt.Sprintf("link %s: %s has no heading #%s", target, path, fragment))
		}
	}
	return problems
}

// missingCitations returns the *.md paths and the repository paths cited in
// text that exist neither relative to the citing file nor to the module
// root. A repository path may end in a Go identifier of the package it
// names (pkg/dpop.Transport).
func missingCitations(file, text string) []string {
	var problems []string
	for _, m := range citedRepoPath.FindAllStringSubmatchIndex(text, -1) {
		cited := text[m[2]:m[3]]
		if followedByPattern.MatchString(text[m[3]:]) {
			continue
		}
		if _, err := os.Stat(filepath.Join(repoRoot, cited)); err == nil {
			continue
		}
		if dir, ident, ok := cutLast(cited, "."); ok && goIdentifier.MatchString(ident) && !strings.Contains(ident, "/") {
			if info, err := os.Stat(filepath.Join(repoRoot, dir)); err == nil && info.IsDir() {
				continue
			}
		}
		problems = append(problems, fmt.Sprintf("names %s, which is not in the repository", cited))
	}
	for _, m := range citedMarkdown.FindAllStringSubmatch(text, -1) {
		cited := m[1]
		if _, err := os.Stat(resolve(file, cited)); err == nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(repoRoot, cited)); err == nil {
			continue
		}
		problems = append(problems, fmt.Sprintf("cites %s, which is not in the repository", cited))
	}
	return problems
}

// cutLast slices s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// resolve interprets a link target of file: relative to its directory, or
// to the module root when it starts with "/".
func resolve(file, target string) string {
	if strings.HasPrefix(target, "/") {
		return filepath.Join(repoRoot, target)
	}
	return filepath.Join(filepath.Dir(file), target)
}

// withoutCodeBlocks blanks the fenced code blocks of a Markdown text.
func withoutCodeBlocks(text string) string {
	var b strings.Builder
	fence := ""
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")):
			fence = trimmed[:3]
		case fence != "" && strings.HasPrefix(trimmed, fence):
			fence = ""
		case fence == "":
			b.WriteString(line)
		}
	}
	return b.String()
}

// anchors returns the fragment identifiers of the headings of a Markdown
// text, made as GitHub makes them: lower case, punctuation dropped, spaces
// to hyphens, "-1", "-2"... for repeated headings.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(withoutCodeBlocks(text), "\n") {
		hashes := len(line) - len(strings.TrimLeft(line, "#"))
		if hashes == 0 || hashes > 6 || !strings.HasPrefix(line[hashes:], " ") {
			continue
		}
		var slug strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(line[hashes:])) {
			switch {
			case r == ' ':
				slug.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				slug.WriteRune(r)
			}
		}
		anchor := slug.String()
		for n := 1; out[anchor]; n++ {
			anchor = fmt.Sprintf("%s-%d", slug.String(), n)
		}
		out[anchor] = true
	}
	return out
}

// goComments returns the text of the comments of a Go file.
func goComments(t *testing.T, file string) string {
	t.Helper()
	text := goCommentText(readFile(t, file))
	if text == "\x00" {
		t.Fatalf("%s does not parse", file)
	}
	return text
}

func goCommentText(src string) string {
	f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.ParseComments)
	if err != nil {
		return "\x00"
	}
	var b strings.Builder
	for _, group := range f.Comments {
		b.WriteString(group.Text())
		b.WriteString("\n")
	}
	return b.String()
}

// hashComments returns the comments of a YAML or shell file: what follows
// a # at the start of a line or after a blank.
func hashComments(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		for i := strings.Index(line, "#"); i >= 0; {
			if i == 0 || line[i-1] == ' ' || line[i-1] == '\t' {
				b.WriteString(line[i+1:])
				b.WriteString("\n")
				break
			}
			next := strings.Index(line[i+1:], "#")
			if next < 0 {
				break
			}
			i += next + 1
		}
	}
	return b.String()
}
