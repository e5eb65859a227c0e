package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/stellaops/authgate/pkg/yamljson"
)

// Object is one rendered document, decoded into its typed API object.
type Object struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	Source     string // the template it came from (helm's "# Source:" line)
	Typed      any    // *appsv1.Deployment, *corev1.Service, ...
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// Decode splits a multi-document manifest and decodes every document
// strictly: a field unknown to the API type is an error, as is a kind this
// package does not know.
func Decode(manifest []byte) ([]Object, error) {
	var out []Object
	for i, doc := range docSep.Split(string(manifest), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		src := ""
		if m := regexp.MustCompile(`(?m)^# Source: (.+)$`).FindStringSubmatch(doc); m != nil {
			src = m[1]
		}
		obj, err := decodeDoc([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i, src, err)
		}
		obj.Source = src
		out = append(out, obj)
	}
	return out, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func newTyped(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1/Pod":
		return &corev1.Pod{}, nil
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, nil
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &ServiceMonitor{}, nil
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &PrometheusRule{}, nil
	}
	return nil, fmt.Errorf("unexpected kind %s %s", apiVersion, kind)
}

func decodeDoc(doc []byte) (Object, error) {
	js, err := yamljson.ToJSON(doc)
	if err != nil {
		return Object{}, fmt.Errorf("yaml: %w", err)
	}
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(js, &meta); err != nil {
		return Object{}, err
	}
	typed, err := newTyped(meta.APIVersion, meta.Kind)
	if err != nil {
		return Object{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(typed); err != nil {
		return Object{}, fmt.Errorf("%s %s: %w", meta.Kind, meta.Metadata.Name, err)
	}
	return Object{
		APIVersion: meta.APIVersion, Kind: meta.Kind,
		Name: meta.Metadata.Name, Namespace: meta.Metadata.Namespace,
		Typed: typed,
	}, nil
}

// Find returns the objects of a kind.
func Find[T any](objs []Object) []T {
	var out []T
	for _, o := range objs {
		if t, ok := o.Typed.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// Workloads returns the Deployments of objs, and their StatefulSets seen as
// the Deployment of their first pod: the same metadata, replicas, selector
// and pod template, with a volume per claim template naming the claim the
// StatefulSet controller creates for that pod (<template>-<name>-0).
func Workloads(objs []Object) []*appsv1.Deployment {
	out := Find[*appsv1.Deployment](objs)
	for _, ss := range Find[*appsv1.StatefulSet](objs) {
		tmpl := *ss.Spec.Template.DeepCopy()
		for _, c := range ss.Spec.VolumeClaimTemplates {
			tmpl.Spec.Volumes = append(tmpl.Spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name + "-" + ss.Name + "-0"},
			}})
		}
		out = append(out, &appsv1.Deployment{TypeMeta: ss.TypeMeta, ObjectMeta: ss.ObjectMeta, Spec: appsv1.DeploymentSpec{
			Replicas: ss.Spec.Replicas, Selector: ss.Spec.Selector, Template: tmpl, RevisionHistoryLimit: ss.Spec.RevisionHistoryLimit,
		}})
	}
	return out
}
