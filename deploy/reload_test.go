package deploy_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// TestRegistryTokenReloadChecksum: with reload.watch (the default) the
// pods' checksum/config changes only for settings that need a restart, so
// that a change of plans, licences, services, keys or the policy section
// reloads in place; with reload.watch=false every change rolls the pods.
func TestRegistryTokenReloadChecksum(t *testing.T) {
	helm := helmBin(t)
	checksum := func(set ...string) string {
		r := defaultRelease("registry-token")
		r.Set = set
		dep := one[*appsv1.Deployment](t, renderObjects(t, helm, r))
		sum := dep.Spec.Template.Annotations["checksum/config"]
		if sum == "" {
			t.Fatal("no checksum/config annotation")
		}
		return sum
	}
	live := [][]string{
		{"revokedLicenses[0]=lic-1"},
		{"registry.services[0]=other"},
		{"defaultPlan=enterprise"},
		{"plans.community[0].repository=other/*"},
		{"signing.lifetime=10m"},
		{"flexAuth.url=http://flex-auth.flex-auth.svc.cluster.local:8080"},
		{"signing.keys[0].existingSecret=signing-a", "signing.keys[0].status=active"},
	}
	restart := [][]string{
		{"logLevel=debug"},
		{"authority.dpop.maxAge=30s"},
		{"publicUrl=https://tokens.example.com"},
		{"registry.realm=https://tokens.example.com/token"},
		{"replayCache.maxEntries=1000"},
	}
	for _, watch := range []bool{true, false} {
		flag := "reload.watch=false"
		if watch {
			flag = "reload.watch=true"
		}
		base := checksum(flag)
		for _, set := range live {
			if changed := checksum(append(set, flag)...) != base; changed == watch {
				t.Errorf("%s, %v: checksum changed %v", flag, set, changed)
			}
		}
		for _, set := range restart {
			if checksum(append(set, flag)...) == base {
				t.Errorf("%s, %v: checksum unchanged", flag, set)
			}
		}
	}
}
