package ociimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestRootFSExtraFiles: extra files land after their parent directories,
// each once, with their mode; a file twice (or over the service's own
// entries) is refused.
func TestRootFSExtraFiles(t *testing.T) {
	layer, err := RootFS("curl", []byte("bin"), time.Unix(0, 0), File{Name: "lib/x86_64-linux-gnu/libz.so.1", Mode: 0o755, Data: []byte("z")},
		File{Name: "lib/x86_64-linux-gnu/libc.so.6", Mode: 0o755, Data: []byte("c")}, File{Name: "etc/curlrc", Mode: 0o644, Data: []byte("rc")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	seen := map[string]bool{}
	r := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if seen[h.Name] {
			t.Errorf("%s twice", h.Name)
		}
		seen[h.Name] = true
		if dir := h.Name[:strings.LastIndex(strings.TrimSuffix(h.Name, "/"), "/")+1]; dir != "" && !seen[dir] {
			t.Errorf("%s before its directory %s", h.Name, dir)
		}
		names = append(names, h.Name)
		if h.Name == "etc/curlrc" && h.Mode != 0o644 {
			t.Errorf("etc/curlrc mode %o", h.Mode)
		}
	}
	for _, want := range []string{"lib/", "lib/x86_64-linux-gnu/", "lib/x86_64-linux-gnu/libz.so.1", "etc/curlrc", "usr/local/bin/curl"} {
		if !seen[want] {
			t.Errorf("no %s in %v", want, names)
		}
	}
	for _, dup := range []File{{Name: "etc/passwd", Data: []byte("x")}, {Name: "usr/local/bin/curl", Data: []byte("x")}} {
		if _, err := RootFS("curl", []byte("bin"), time.Unix(0, 0), dup); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%s over the image's own file: err %v", dup.Name, err)
		}
	}
}
