package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// writeDockerConfig sets auths[registry] to {"registrytoken": token} in
// the Docker config file, keeping every other key and entry; the file is
// created (mode 0600) when absent and replaced atomically. The entry's
// other credentials (auth, identitytoken, ...) are dropped so that clients
// use the token. A credential store or helper for the registry would take
// precedence over the file in crane, oras and helm: that is warned about.
func writeDockerConfig(path, registry, token string, stderr io.Writer) error {
	cfg := map[string]json.RawMessage{}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(bytes.TrimSpace(b)) == 0:
		// An empty file (touch config.json) is an empty config, as for docker.
	default:
		if err := json.Unmarshal(b, &cfg); err != nil {
			return fmt.Errorf("%s is not a Docker config (JSON object): %w", path, err)
		}
	}
	if cfg == nil { // the file held null
		cfg = map[string]json.RawMessage{}
	}
	for k := range cfg {
		// Docker clients decode the file case-insensitively: another
		// spelling of auths would compete with the entry written here.
		if k != "auths" && strings.EqualFold(k, "auths") {
			return fmt.Errorf("%s: has a %q key; Docker clients read it as auths: rename it to auths", path, k)
		}
	}
	auths := map[string]json.RawMessage{}
	if raw, ok := cfg["auths"]; ok {
		if err := json.Unmarshal(raw, &auths); err != nil {
			return fmt.Errorf("%s: auths is not an object: %w", path, err)
		}
		if auths == nil { // "auths": null
			auths = map[string]json.RawMessage{}
		}
	}
	entry, err := json.Marshal(map[string]string{"registrytoken": token})
	if err != nil {
		return err
	}
	auths[registry] = entry
	if cfg["auths"], err = json.Marshal(auths); err != nil {
		return err
	}
	var helpers map[string]string
	if raw, ok := cfg["credHelpers"]; ok && json.Unmarshal(raw, &helpers) == nil && helpers[registry] != "" {
		fmt.Fprintf(stderr, "registry-token-helper: warning: credHelpers names %q for %s; clients will ask it, not this file\n", helpers[registry], registry)
	} else if raw, ok := cfg["credsStore"]; ok && string(raw) != `""` {
		fmt.Fprintf(stderr, "registry-token-helper: warning: credsStore %s is set; clients will ask it, not this file's auths\n", raw)
	}
	out, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".config-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(out, '\n')); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
