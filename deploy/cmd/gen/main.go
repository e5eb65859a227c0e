// Command gen regenerates deploy/'s generated files: the copies charts
// carry (ops-warden fixtures, alert rules) and the plain manifests rendered
// from the charts. Run from the repository root:
//
//	go run ./deploy/cmd/gen
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/stellaops/authgate/deploy/internal/render"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run() error {
	helm, err := render.Helm()
	if err != nil {
		return err
	}
	if err := chdirRoot(); err != nil {
		return err
	}
	// Two passes: the copies first, so that the charts render with them.
	for pass := 0; pass < 2; pass++ {
		files, err := render.Generate(helm, ".")
		if err != nil {
			return err
		}
		paths := make([]string, 0, len(files))
		for p := range files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, files[p], 0o644); err != nil {
				return err
			}
			if pass == 1 {
				fmt.Println("wrote", p)
			}
		}
	}
	return nil
}

// chdirRoot moves to the repository root (the directory holding go.mod).
func chdirRoot() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return os.Chdir(dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
