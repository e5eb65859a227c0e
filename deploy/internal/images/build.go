package images

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stellaops/authgate/deploy/internal/ociimage"
)

type options struct {
	Out, Push, Epoch    string
	Services, Platforms []string
	Log                 io.Writer
}

// result is one built image, printed as one line per image.
type result struct {
	Ref, Digest, Layout, Archive, Pushed string
	// Sizes are the compressed sizes (manifest, config and layer) per
	// platform.
	Sizes map[string]int64
}

func (r result) String() string {
	var sizes []string
	for p, n := range r.Sizes {
		sizes = append(sizes, fmt.Sprintf("%s=%d", p, n))
	}
	line := fmt.Sprintf("%s@%s layout=%s archive=%s sizes=%s", r.Ref, r.Digest, r.Layout, r.Archive, strings.Join(sorted(sizes), ","))
	if r.Pushed != "" {
		line += " pushed=" + r.Pushed
	}
	return line
}

func build(ctx context.Context, o options) ([]result, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	created, err := sourceDate(ctx, root, o.Epoch)
	if err != nil {
		return nil, err
	}
	revision := gitOutput(ctx, root, "rev-parse", "HEAD")
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	var results []result
	for _, svc := range o.Services {
		r, err := buildService(ctx, o, root, svc, created, revision)
		if err != nil {
			return results, fmt.Errorf("%s: %w", svc, err)
		}
		results = append(results, r)
	}
	return results, nil
}

func buildService(ctx context.Context, o options, root, svc string, created time.Time, revision string) (result, error) {
	chart, err := readChart(filepath.Join(root, "deploy", "helm", svc))
	if err != nil {
		return result{}, err
	}
	spec := ociimage.Spec{Service: svc, Created: created, Binaries: map[string][]byte{},
		Labels: labels(svc, chart, created, revision)}
	spec.Annotations = spec.Labels
	for _, p := range o.Platforms {
		fmt.Fprintf(o.Log, "building %s for %s\n", svc, p)
		bin, err := goBuild(ctx, root, svc, p)
		if err != nil {
			return result{}, err
		}
		spec.Binaries[p] = bin
	}
	idx, err := ociimage.Build(spec)
	if err != nil {
		return result{}, err
	}
	r := result{Ref: chart.Repository + ":" + chart.AppVersion,
		Layout: filepath.Join(o.Out, svc), Archive: filepath.Join(o.Out, svc+".oci.tar")}
	digest, err := idx.Digest()
	if err != nil {
		return r, err
	}
	r.Digest = digest.String()
	if r.Sizes, err = sizes(idx); err != nil {
		return r, err
	}
	if err := ociimage.WriteLayout(r.Layout, idx, r.Ref); err != nil {
		return r, err
	}
	if err := ociimage.WriteArchive(r.Layout, r.Archive, created); err != nil {
		return r, err
	}
	if o.Push != "" {
		r.Pushed = strings.TrimSuffix(o.Push, "/") + "/" + svc + ":" + chart.AppVersion
		fmt.Fprintf(o.Log, "pushing %s\n", r.Pushed)
		if err := ociimage.Push(ctx, r.Pushed, idx); err != nil {
			return r, fmt.Errorf("push %s: %w", r.Pushed, err)
		}
	}
	return r, nil
}

func labels(svc string, chart chartInfo, created time.Time, revision string) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":   svc,
		"org.opencontainers.image.version": chart.AppVersion,
		"org.opencontainers.image.created": created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.source":  chart.Home,
	}
	if revision != "" {
		l["org.opencontainers.image.revision"] = revision
	}
	return l
}

// goBuild compiles ./services/<svc> as a static binary for platform.
func goBuild(ctx context.Context, root, svc, platform string) ([]byte, error) {
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "images-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	out := filepath.Join(tmp, svc)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./services/"+svc)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	if p.Variant != "" && p.Architecture == "arm" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s for %s: %v\n%s", svc, platform, err, msg)
	}
	return os.ReadFile(out)
}

// sourceDate is SOURCE_DATE_EPOCH, or the commit time of HEAD.
func sourceDate(ctx context.Context, root, epoch string) (time.Time, error) {
	if epoch == "" {
		epoch = gitOutput(ctx, root, "log", "-1", "--format=%ct")
		if epoch == "" {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH is not set and %s has no git commit to take the time from", root)
		}
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want non-negative Unix seconds", epoch)
	}
	return time.Unix(secs, 0).UTC(), nil
}

func gitOutput(ctx context.Context, dir string, args ...string) string {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run from the repository (go env GOMOD: %q, %v)", gomod, err)
	}
	return filepath.Dir(gomod), nil
}
