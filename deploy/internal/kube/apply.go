package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stellaops/authgate/pkg/yamljson"
)

// FieldManager is the server-side apply field manager of the checks.
const FieldManager = "authgate-deploy-check"

func (s *Server) do(ctx context.Context, method, path, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// Object is the identity of one manifest document.
type Object struct {
	APIVersion, Kind, Namespace, Name string
}

func (o Object) String() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// path is the object's REST path; namespace fills in for a namespaced
// object that names none.
func (s *Server) path(ctx context.Context, o *Object, namespace string) (string, error) {
	var list metav1.APIResourceList
	group := "/apis/" + o.APIVersion
	if !strings.Contains(o.APIVersion, "/") {
		group = "/api/" + o.APIVersion
	}
	code, body, err := s.do(ctx, http.MethodGet, group, "", nil)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("%s: API %s is not served (%d)", o, o.APIVersion, code)
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return "", err
	}
	for _, r := range list.APIResources {
		if r.Kind != o.Kind || strings.Contains(r.Name, "/") {
			continue
		}
		if !r.Namespaced {
			return group + "/" + r.Name + "/" + url.PathEscape(o.Name), nil
		}
		if o.Namespace == "" {
			o.Namespace = namespace
		}
		return group + "/namespaces/" + url.PathEscape(o.Namespace) + "/" + r.Name + "/" + url.PathEscape(o.Name), nil
	}
	return "", fmt.Errorf("%s: kind %s is not served by %s", o, o.Kind, o.APIVersion)
}

// Apply sends one YAML document as a server-side apply with strict field
// validation (an unknown or duplicated field is an error, not a warning),
// as a dry run (nothing stored) when dryRun is set.
func (s *Server) Apply(ctx context.Context, doc []byte, namespace string, dryRun bool) (Object, error) {
	body, err := yamljson.ToJSON(doc)
	if err != nil {
		return Object{}, err
	}
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return Object{}, err
	}
	o := Object{APIVersion: head.APIVersion, Kind: head.Kind, Namespace: head.Metadata.Namespace, Name: head.Metadata.Name}
	if o.APIVersion == "" || o.Kind == "" || o.Name == "" {
		return o, fmt.Errorf("document without apiVersion, kind or metadata.name:\n%s", doc)
	}
	p, err := s.path(ctx, &o, namespace)
	if err != nil {
		return o, err
	}
	q := url.Values{"fieldManager": {FieldManager}, "fieldValidation": {"Strict"}, "force": {"true"}}
	if dryRun {
		q.Set("dryRun", "All")
	}
	code, out, err := s.do(ctx, http.MethodPatch, p+"?"+q.Encode(), "application/apply-patch+yaml", body)
	if err != nil {
		return o, err
	}
	if code != http.StatusOK && code != http.StatusCreated {
		var st metav1.Status
		if json.Unmarshal(out, &st) == nil && st.Message != "" {
			return o, fmt.Errorf("%s: %d %s", o, code, st.Message)
		}
		return o, fmt.Errorf("%s: %d %s", o, code, out)
	}
	return o, nil
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// ApplyManifest applies every document of a multi-document manifest and
// returns the objects and every error.
func (s *Server) ApplyManifest(ctx context.Context, manifest []byte, namespace string, dryRun bool) ([]Object, error) {
	var objs []Object
	var errs []error
	for _, doc := range docSep.Split(string(manifest), -1) {
		if empty(doc) {
			continue
		}
		o, err := s.Apply(ctx, []byte(doc), namespace, dryRun)
		objs = append(objs, o)
		errs = append(errs, err)
	}
	return objs, errors.Join(errs...)
}

func empty(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// Get fetches an object as JSON; found is false on 404.
func (s *Server) Get(ctx context.Context, o Object) (obj map[string]any, found bool, err error) {
	p, err := s.path(ctx, &o, o.Namespace)
	if err != nil {
		return nil, false, err
	}
	code, body, err := s.do(ctx, http.MethodGet, p, "", nil)
	switch {
	case err != nil:
		return nil, false, err
	case code == http.StatusNotFound:
		return nil, false, nil
	case code != http.StatusOK:
		return nil, false, fmt.Errorf("GET %s: %d %s", o, code, body)
	}
	return obj, true, json.Unmarshal(body, &obj)
}

// WaitServed polls until apiVersion serves kind (a CRD just created is
// established and in discovery), for at most timeout.
func (s *Server) WaitServed(ctx context.Context, apiVersion, kind string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		o := Object{APIVersion: apiVersion, Kind: kind, Name: "probe"}
		_, err := s.path(ctx, &o, "default")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Helm runs helm against the server (its kubeconfig, a private helm
// home) and returns stdout and stderr, where helm prints its warnings.
func (s *Server) Helm(ctx context.Context, helm string, args ...string) (stdout, stderr string, err error) {
	home, err := os.MkdirTemp("", "authgate-helm-")
	if err != nil {
		return "", "", err
	}
	defer func() { _ = os.RemoveAll(home) }()
	cmd := exec.CommandContext(ctx, helm, append(args, "--kubeconfig", s.Kubeconfig)...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+s.Kubeconfig)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), errOut.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String(), errOut.String(), nil
}

// EnsureNamespace creates namespace name with its "default"
// ServiceAccount, which a cluster's controller manager would add (the
// admission of Pods, even in a dry run, looks it up).
func (s *Server) EnsureNamespace(ctx context.Context, name string) error {
	for _, doc := range []string{
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n",
		"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: default\n  namespace: " + name + "\n",
	} {
		if _, err := s.Apply(ctx, []byte(doc), name, false); err != nil {
			return err
		}
	}
	return nil
}

// Namespaces lists the namespaces a manifest's documents name.
func Namespaces(manifest []byte) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, doc := range docSep.Split(string(manifest), -1) {
		if empty(doc) {
			continue
		}
		var head struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := yamljson.Unmarshal([]byte(doc), &head); err != nil {
			return nil, err
		}
		if ns := head.Metadata.Namespace; ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	return out, nil
}
