// Command k8s-cluster runs the single-node end-to-end cluster
// (deploy/internal/cluster) in the foreground until Ctrl-C, then tears it
// down and prints what differs on the host from before it started
// (nothing, when the teardown works). Run it as root from the repository
// root (go tool task k8s:cluster):
//
//	go run ./deploy/cmd/k8s-cluster [--dir DIR] [--image ARCHIVE ...]
//
// While it runs, reach the cluster from its network namespace:
//
//	nsenter --net=/run/netns/<namespace> kubectl --kubeconfig DIR/kubeconfig/admin get pods -A
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/stellaops/authgate/deploy/internal/cluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8s-cluster:", err)
		os.Exit(1)
	}
}

type images []string

func (i *images) String() string     { return strings.Join(*i, ",") }
func (i *images) Set(v string) error { *i = append(*i, v); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("k8s-cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "state directory (default: a new directory under $TMPDIR, removed at the end)")
	var archives images
	fs.Var(&archives, "image", "OCI archive to import (repeatable; e.g. bin/images/flex-auth.oci.tar from go tool task images)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	tools, err := cluster.FindTools()
	if err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "authgate-k8s-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(d) }()
		*dir = d
	}
	before, err := cluster.Snapshot(ctx, tools)
	if err != nil {
		return err
	}
	c, err := cluster.Start(ctx, cluster.Config{Dir: *dir, Tools: tools, Images: archives, Log: stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "cluster %s is up; Ctrl-C tears it down. From its network namespace:\n  nsenter --net=/run/netns/%s %s --kubeconfig %s get pods -A\n",
		c.ID, c.NetNS, tools.Kubectl, c.Kubeconfig())
	<-ctx.Done()
	stopErr := c.Stop()
	after, err := cluster.Snapshot(context.Background(), tools)
	if err != nil {
		return errors.Join(stopErr, err)
	}
	diff := append(cluster.Diff(before, after), c.Leftovers()...)
	if len(diff) > 0 {
		return errors.Join(stopErr, fmt.Errorf("the host differs from before the cluster:\n  %s", strings.Join(diff, "\n  ")))
	}
	fmt.Fprintln(stdout, "torn down; the host is as before")
	return stopErr
}
