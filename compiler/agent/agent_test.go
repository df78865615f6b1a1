package agent

import "testing"

// The label filters are Cilium's own; these cases pin what lint relies on:
// pod labels Cilium drops from identities, and node labels, which its
// default node-label filter keeps, kubernetes.io ones included.
func TestLabelFilters(t *testing.T) {
	for _, tc := range []struct {
		key       string
		pod, node bool
	}{
		{"app", true, true},
		{"k8s:app", true, true},
		{"app.kubernetes.io/name", true, true},
		{"io.kubernetes.pod.namespace", true, true},
		{"pod-template-hash", false, true},
		{"controller-revision-hash", false, true},
		{"statefulset.kubernetes.io/pod-name", false, true},
		{"kubernetes.io/hostname", false, true},
		{"k8s:kubernetes.io/hostname", false, true},
		{"topology.kubernetes.io/zone", false, true},
		{"node-role.kubernetes.io/control-plane", true, true}, // the filter drops keys that start with kubernetes.io only
	} {
		if got := IdentityLabel(tc.key); got != tc.pod {
			t.Errorf("IdentityLabel(%q) = %v, want %v", tc.key, got, tc.pod)
		}
		if got := NodeLabel(tc.key); got != tc.node {
			t.Errorf("NodeLabel(%q) = %v, want %v", tc.key, got, tc.node)
		}
	}
}
