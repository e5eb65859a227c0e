package policy

import (
	"bytes"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
	"go.yaml.in/yaml/v3"
)

// RuleInfoString is the info string of a fenced code block holding a rule.
const RuleInfoString = "rule"

// frontMatter is the YAML header of a policy package.
type frontMatter struct {
	Name          string         `yaml:"name"`
	Version       string         `yaml:"version"`
	Backend       string         `yaml:"backend"`
	Description   string         `yaml:"description"`
	Reasons       []reasonDecl   `yaml:"reasons"`
	DefaultReason string         `yaml:"default_reason"`
	Variables     []variableDecl `yaml:"variables"`
	Request       string         `yaml:"request"`
	Decides       *Decides       `yaml:"decides"`
}

type reasonDecl struct {
	Code        string `yaml:"code"`
	Description string `yaml:"description"`
}

type variableDecl struct {
	Name        string    `yaml:"name"`
	Type        string    `yaml:"type"`
	Value       yaml.Node `yaml:"value"`
	Description string    `yaml:"description"`
}

// ruleBlock is one fenced rule block as found in the document.
type ruleBlock struct {
	line      int // line of the opening fence
	whenLine  int // line where the condition starts
	literal   bool
	hasProse  bool   // explaining prose precedes the block
	ID        string `yaml:"id"`
	Effect    string `yaml:"effect"`
	Reason    string `yaml:"reason"`
	When      string `yaml:"when"`
	parseFail bool
}

// document is the parsed but not yet compiled form of a package.
type document struct {
	front     frontMatter
	frontLine int // line of the opening "---"
	rules     []*ruleBlock
}

// lineIndex maps byte offsets to 1-based line numbers.
type lineIndex []int

func newLineIndex(src []byte) lineIndex {
	idx := lineIndex{0}
	for i, b := range src {
		if b == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

func (l lineIndex) line(off int) int {
	return sort.Search(len(l), func(i int) bool { return l[i] > off })
}

// splitFrontMatter returns the YAML between a leading "---" line and the
// next "---" (or "...") line, and the byte offset where the Markdown body
// starts. ok is false when the document does not start with front matter.
func splitFrontMatter(src []byte) (yamlSrc []byte, bodyOff int, ok bool) {
	first, rest, found := bytes.Cut(src, []byte("\n"))
	if !found || strings.TrimRight(string(first), " \t\r") != "---" {
		return nil, 0, false
	}
	off := len(first) + 1
	for len(rest) > 0 {
		line, next, _ := bytes.Cut(rest, []byte("\n"))
		trimmed := strings.TrimRight(string(line), " \t\r")
		if trimmed == "---" || trimmed == "..." {
			end := off + len(line) + 1
			if end > len(src) {
				end = len(src)
			}
			return src[len(first)+1 : off], end, true
		}
		off += len(line) + 1
		rest = next
	}
	return nil, 0, false
}

// readDocument parses front matter and rule blocks, reporting problems to s.
func readDocument(s *diagSink, src []byte) *document {
	doc := &document{frontLine: 1}
	fm, bodyOff, ok := splitFrontMatter(src)
	if !ok {
		s.errorf(1, CodeFrontMatter, "document must start with YAML front matter between --- lines")
		return nil
	}
	if err := decodeStrict(fm, &doc.front); err != nil {
		s.errorf(1+yamlErrLine(err), CodeFrontMatter, "front matter: %s", yamlErrText(err))
		return nil
	}
	lines := newLineIndex(src)
	root := goldmark.New().Parser().Parse(text.NewReader(src[bodyOff:]))
	prose := false
	err := ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch b := n.(type) {
		case *ast.Paragraph, *ast.TextBlock:
			prose = true
		case *ast.FencedCodeBlock:
			if b.Info == nil || string(b.Language(src[bodyOff:])) != RuleInfoString {
				return ast.WalkSkipChildren, nil
			}
			line := lines.line(bodyOff + b.Info.Segment.Start)
			var content bytes.Buffer
			for i := 0; i < b.Lines().Len(); i++ {
				seg := b.Lines().At(i)
				content.Write(seg.Value(src[bodyOff:]))
			}
			rb := readRule(s, line, content.Bytes())
			rb.hasProse = prose
			doc.rules = append(doc.rules, rb)
			prose = false
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		s.errorf(1, CodeMarkdown, "markdown: %v", err)
		return nil
	}
	return doc
}

// readRule decodes the YAML body of one rule block.
func readRule(s *diagSink, line int, content []byte) *ruleBlock {
	rb := &ruleBlock{line: line, whenLine: line}
	if err := decodeStrict(content, rb); err != nil {
		s.errorf(line+yamlErrLine(err), CodeRuleSyntax, "rule block: %s", yamlErrText(err))
		rb.parseFail = true
		return rb
	}
	var node yaml.Node
	if yaml.Unmarshal(content, &node) == nil && len(node.Content) == 1 {
		m := node.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "when" {
				v := m.Content[i+1]
				rb.whenLine = line + v.Line
				rb.literal = v.Style&yaml.LiteralStyle != 0
				if rb.literal {
					rb.whenLine = line + v.Line + 1
				}
			}
		}
	}
	var missing []string
	for _, kv := range [][2]string{{"id", rb.ID}, {"effect", rb.Effect}, {"reason", rb.Reason}, {"when", rb.When}} {
		if strings.TrimSpace(kv[1]) == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		s.errorf(line, CodeRuleSyntax, "rule block %s: missing %s", ruleName(rb), strings.Join(missing, ", "))
		rb.parseFail = true
	}
	return rb
}

func ruleName(rb *ruleBlock) string {
	if rb.ID == "" {
		return "(no id)"
	}
	return `"` + rb.ID + `"`
}

// decodeStrict decodes one YAML document into v, rejecting unknown keys.
func decodeStrict(src []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty document")
		}
		return err
	}
	return nil
}

// yamlErrLine extracts the first "line N" of a yaml.v3 error (0 if none).
func yamlErrLine(err error) int {
	msg := err.Error()
	i := strings.Index(msg, "line ")
	if i < 0 {
		return 0
	}
	j := i + len("line ")
	k := j
	for k < len(msg) && msg[k] >= '0' && msg[k] <= '9' {
		k++
	}
	n, convErr := strconv.Atoi(msg[j:k])
	if convErr != nil {
		return 0
	}
	return n
}

// yamlErrText turns a yaml.v3 error into a message without Go type names
// or relative line numbers (the diagnostic carries the absolute line).
func yamlErrText(err error) string {
	var parts []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		parts = te.Errors
	} else {
		parts = []string{err.Error()}
	}
	for i, p := range parts {
		p = strings.TrimPrefix(p, "yaml: ")
		if strings.HasPrefix(p, "line ") {
			if _, rest, ok := strings.Cut(p, ": "); ok {
				p = rest
			}
		}
		if j := strings.Index(p, " not found in type "); j >= 0 {
			p = p[:j] + " is not a known key"
		}
		if j := strings.Index(p, " into policy."); j >= 0 {
			p = p[:j]
		}
		parts[i] = p
	}
	return strings.Join(parts, "; ")
}
