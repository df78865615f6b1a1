package verify

import (
	"context"
	"testing"

	"github.com/policypilot/ppc/compiler/agent"
)

// FuzzVerify: no document, however broken, panics the verifier or passes
// without being a policy.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"cilium.io/v2","kind":"CiliumNetworkPolicy","metadata":{"name":"a","namespace":"b"},"spec":{"endpointSelector":{},"ingress":[{}]}}`))
	f.Add([]byte(`{"apiVersion":"cilium.io/v2","kind":"CiliumClusterwideNetworkPolicy","metadata":{"name":"a"},"specs":[{"nodeSelector":{},"egress":[{"toPorts":[{"ports":[{"port":"53","protocol":"UDP"}],"rules":{"dns":[{"matchPattern":"*"}]}}]}]}]}`))
	f.Add([]byte(`{"kind":"CiliumNetworkPolicy","spec":{"egress":[{"toFQDNs":[{"matchPattern":"**."}],"icmps":[{"fields":[{"type":"EchoRequest"}]}]}]}}`))
	f.Add([]byte(`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"a","namespace":"b"},"spec":{"podSelector":{"matchLabels":{"app":"x"}},"ingress":[{"from":[{"namespaceSelector":{}},{"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16"]}}],"ports":[{"port":8000,"endPort":8080},{"port":"http"}]}],"policyTypes":["Ingress","Egress"]}}`))
	f.Add([]byte(`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"a"},"spec":{"podSelector":{"matchExpressions":[{"key":"k","operator":"In"}]},"egress":[{"to":[{}],"ports":[{"protocol":"ICMP"}]}]}}`))
	f.Add([]byte(`{}`))
	v, err := New(Options{Agent: agent.Defaults(), PPC: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ds := v.Verify(context.Background(), Object{JSON: b})
		_ = ds
		// What verification accepts as a NetworkPolicy, Cilium's replay
		// decodes too.
		if np, err := DecodeNetworkPolicy(b); err == nil && np == nil {
			t.Fatal("DecodeNetworkPolicy: no error and no policy")
		}
	})
}
