package deploy

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"
)

// rendered is one object kustomize rendered, decoded into its Kubernetes
// API type.
type rendered struct {
	kind, name, namespace string
	obj                   any
}

// kustomizeBuild renders dir as `kustomize build` does (the kustomize API
// library, pinned in go.mod) and decodes every object strictly into the
// Kubernetes API types: an unknown or duplicate field, a wrong type or a
// kind this test does not know fails.
func kustomizeBuild(t *testing.T, dir string) []rendered {
	t.Helper()
	out, err := renderStrict(dir)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func renderStrict(dir string) ([]rendered, error) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var out []rendered
	for _, res := range resources.Resources() {
		raw, err := res.AsYAML()
		if err != nil {
			return nil, err
		}
		gvk := res.GetGvk()
		var obj any
		switch gvk.ApiVersion() + " " + gvk.Kind {
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 Namespace":
			obj = &corev1.Namespace{}
		case "policy/v1 PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "networking.k8s.io/v1 NetworkPolicy":
			obj = &networkingv1.NetworkPolicy{}
		default:
			return nil, fmt.Errorf("%s: %s %s %s: no API type known to this test", dir, gvk.ApiVersion(), gvk.Kind, res.GetName())
		}
		if err := sigsyaml.UnmarshalStrict(raw, obj); err != nil {
			return nil, fmt.Errorf("%s: %s %s does not decode strictly: %w", dir, gvk.Kind, res.GetName(), err)
		}
		out = append(out, rendered{kind: gvk.Kind, name: res.GetName(), namespace: res.GetNamespace(), obj: obj})
	}
	return out, nil
}

// TestStrictDecodingRefusesUnknownFields: the decoding above catches what
// kubectl apply --validate=strict would refuse.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	for _, tc := range []struct{ dir, want string }{
		{"testdata/k8s/unknown-field", `unknown field "imagePullPolcy"`},
		{"testdata/k8s/wrong-type", "cannot unmarshal"},
	} {
		_, err := renderStrict(tc.dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.dir, err, tc.want)
		}
	}
}

func find[T any](t *testing.T, objs []rendered, name string) *T {
	t.Helper()
	for _, o := range objs {
		if v, ok := o.obj.(*T); ok && o.name == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T named %s", zero, name)
	return nil
}

// TestKustomizeBuildDecodesStrictly builds the base and the example
// overlay and checks what an operator's `kubectl apply -k` would create.
func TestKustomizeBuildDecodesStrictly(t *testing.T) {
	base := kustomizeBuild(t, "k8s/base")
	overlay := kustomizeBuild(t, "k8s/overlays/example")
	if len(base) == 0 || len(overlay) <= len(base) {
		t.Fatalf("base renders %d objects, overlay %d", len(base), len(overlay))
	}

	for _, o := range overlay {
		if o.kind != "Namespace" && o.namespace != "eidgate" {
			t.Errorf("overlay: %s %s in namespace %q, want eidgate", o.kind, o.name, o.namespace)
		}
	}
	gw := find[appsv1.Deployment](t, overlay, "eidgate-gateway")
	if gw.Spec.Replicas == nil || *gw.Spec.Replicas != 3 {
		t.Errorf("overlay gateway replicas %v, want 3", gw.Spec.Replicas)
	}
	c := gw.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example.gov/eidgate/eidgate:1.0.0" {
		t.Errorf("overlay gateway image %s", c.Image)
	}

	// Every file setting the gateway reads names a file of a mounted volume,
	// and secret volumes carry a mode the gateway accepts for key files:
	// owner and group read only, the group being the pod's fsGroup.
	cfg := find[corev1.ConfigMap](t, overlay, "eidgate-gateway-config")
	mounts := map[string]corev1.Volume{}
	for _, m := range c.VolumeMounts {
		for _, v := range gw.Spec.Template.Spec.Volumes {
			if v.Name == m.Name {
				mounts[m.MountPath] = v
			}
		}
	}
	sc := gw.Spec.Template.Spec.SecurityContext
	for key, path := range cfg.Data {
		if !strings.HasSuffix(key, "_FILE") && !strings.HasSuffix(key, "_PROFILE") {
			continue
		}
		var vol *corev1.Volume
		for dir, v := range mounts {
			if strings.HasPrefix(path, dir+"/") {
				vol = &v
			}
		}
		if vol == nil {
			t.Errorf("%s=%s is on no mounted volume", key, path)
			continue
		}
		if s := vol.Secret; s != nil {
			mode := int32(0o644)
			if s.DefaultMode != nil {
				mode = *s.DefaultMode
			}
			if mode&0o037 != 0 || sc == nil || sc.FSGroup == nil || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
				t.Errorf("%s: secret %s mounted with mode %#o (fsGroup %v): the gateway refuses key files others can read",
					key, s.SecretName, mode, sc.FSGroup)
			}
		}
	}
	t.Logf("base: %d objects; overlay: %d objects (%s)", len(base), len(overlay), kinds(overlay))
}

func kinds(objs []rendered) string {
	n := map[string]int{}
	for _, o := range objs {
		n[o.kind]++
	}
	var parts []string
	for k, v := range n {
		parts = append(parts, fmt.Sprintf("%d %s", v, k))
	}
	return strings.Join(parts, ", ")
}
