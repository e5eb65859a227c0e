// Command k8s-registry is the distribution registry's application (the Go
// module github.com/distribution/distribution/v3, as go.mod pins it) with
// only the filesystem storage driver and token authentication, served on
// the configuration's http.addr: the image of the in-cluster registry of
// the end-to-end test, built here on an empty base like the services'
// images. GET / answers 200 (the probes' path, as upstream's server).
// Usage:
//
//	k8s-registry CONFIG.yml
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	_ "github.com/distribution/distribution/v3/registry/auth/token" // registers auth "token"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // registers storage "filesystem"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "k8s-registry:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: k8s-registry CONFIG.yml")
	}
	f, err := os.Open(args[0]) //nolint:gosec // G703: the operator names the configuration file
	if err != nil {
		return err
	}
	cfg, err := configuration.Parse(f)
	_ = f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	app := handlers.NewApp(context.Background(), cfg)
	mux := http.NewServeMux()
	mux.Handle("/v2/", app)
	mux.HandleFunc("GET /{$}", func(http.ResponseWriter, *http.Request) {})
	srv := &http.Server{Addr: cfg.HTTP.Addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}
