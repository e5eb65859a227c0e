// Package images builds the OCI images of registry-token and flex-auth for
// linux/amd64 and linux/arm64 without a container engine or a base image:
// static binaries (CGO_ENABLED=0, -trimpath) on an empty base (see
// deploy/internal/ociimage). Each image is named as its chart deploys it:
// the chart's image.repository, tagged with the chart's appVersion.
// Times come from SOURCE_DATE_EPOCH (default: the commit time of HEAD),
// so two builds of one commit give the same index digest. Run from the
// repository root (go tool task images):
//
//	go run ./deploy/cmd/images [--out bin/images] [--push host/path]
//
// Output per service: an OCI layout (DIR/<service>/) and an OCI archive
// (DIR/<service>.oci.tar). With --push (or IMAGE_REPO) the multi-arch
// index is also pushed to <repo>/<service>:<appVersion>.
package images

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Run parses args (without the program name), builds the images and
// prints one line per image to stdout; progress goes to stderr.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{}
	fs.StringVar(&o.Out, "out", "bin/images", "output directory (replaced per service)")
	services := fs.String("services", "registry-token,flex-auth", "services to build (comma-separated)")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "platforms (comma-separated)")
	fs.StringVar(&o.Push, "push", getenv("IMAGE_REPO"), "also push each index to REPO/<service>:<appVersion> (default $IMAGE_REPO)")
	fs.StringVar(&o.Epoch, "source-date-epoch", getenv("SOURCE_DATE_EPOCH"), "Unix time of the files and configs (default $SOURCE_DATE_EPOCH, else the commit time of HEAD)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.Services = split(*services)
	o.Platforms = split(*platforms)
	if len(o.Services) == 0 || len(o.Platforms) == 0 {
		return errors.New("--services and --platforms must name at least one each")
	}
	o.Log = stderr
	results, err := build(ctx, o)
	for _, r := range results {
		fmt.Fprintln(stdout, r)
	}
	return err
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
