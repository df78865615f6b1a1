package compiler

import "testing"

func TestClusterOfPath(t *testing.T) {
	clusters := []string{"east", "west"}
	for file, want := range map[string]string{
		"out/east/shop/api.yaml":       "east",
		"out/west/shop/api.yaml":       "west",
		"east/out/west/shop/api.yaml":  "west", // the innermost cluster directory
		"out/shop/api.yaml":            "",
		"out/eastern/shop/api.yaml":    "",
		"api.yaml":                     "",
		"out/shop/east.yaml":           "", // a file name is no directory
		"/abs/path/east/kube/dns.yaml": "east",
	} {
		if got := clusterOfPath(file, clusters); got != want {
			t.Errorf("clusterOfPath(%q) = %q, want %q", file, got, want)
		}
	}
}
