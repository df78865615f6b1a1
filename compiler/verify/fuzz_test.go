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
	f.Add([]byte(`{}`))
	v, err := New(Options{Agent: agent.Defaults(), PPC: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ds := v.Verify(context.Background(), Object{JSON: b})
		_ = ds
	})
}
