package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// builds caches the binaries of one test binary: package -> path. Build
// is called from many tests (some parallel); each package is compiled
// once.
type builds struct {
	mu   sync.Mutex
	dir  string
	bins map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
}

// cache is the test binary's build cache, removed by Main.
var cache = &builds{bins: map[string]*build{}}

// Main runs the tests and removes the built binaries; use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if cache.dir != "" {
		_ = os.RemoveAll(cache.dir)
		cache.dir = ""
	}
	return code
}

// Build compiles the main package pkg ("./services/flex-auth", relative to
// the module root, or a full import path) once per test binary and returns
// the executable's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	cache.mu.Lock()
	b, ok := cache.bins[pkg]
	if !ok {
		b = &build{}
		cache.bins[pkg] = b
	}
	if cache.dir == "" {
		dir, err := os.MkdirTemp("", "proctest-bin-")
		if err != nil {
			cache.mu.Unlock()
			t.Fatalf("proctest: %v", err)
		}
		cache.dir = dir
	}
	dir := cache.dir
	cache.mu.Unlock()
	b.once.Do(func() { b.path, b.err = goBuild(dir, pkg) })
	if b.err != nil {
		t.Fatalf("proctest: %v", b.err)
	}
	return b.path
}

// ModuleRoot returns the directory of the main module's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside a module")
	}
	return filepath.Dir(mod), nil
}

func goBuild(dir, pkg string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	name := path.Base(strings.TrimSuffix(pkg, "/"))
	bin := filepath.Join(dir, name)
	for i := 2; ; i++ { // two packages with the same last element
		if _, err := os.Stat(bin); os.IsNotExist(err) {
			break
		}
		bin = filepath.Join(dir, fmt.Sprintf("%s-%d", name, i))
	}
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}
