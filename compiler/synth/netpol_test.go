package synth

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/policy/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestNetworkPolicyOf: each Cilium rule shape and its NetworkPolicy form,
// widened only where a NetworkPolicy cannot say the same.
func TestNetworkPolicyOf(t *testing.T) {
	tests := []struct {
		name, rule string
		dir        string
		want       string // the NetworkPolicy rule as JSON
		widened    string // "" when nothing is widened
	}{
		{"same-namespace peer", `{"fromEndpoints":[{"matchLabels":{"app":"web"}}],"toPorts":[{"ports":[{"port":"8080","protocol":"TCP"}]}]}`, "ingress",
			`{"ports":[{"protocol":"TCP","port":8080}],"from":[{"podSelector":{"matchLabels":{"app":"web"}}}]}`, ""},
		{"peer in another namespace and cluster", `{"toEndpoints":[{"matchLabels":{"app":"db","k8s:io.kubernetes.pod.namespace":"data","k8s:io.cilium.k8s.policy.cluster":"east"}}],"toPorts":[{"ports":[{"port":"5432","protocol":"TCP"}]}]}`, "egress",
			`{"ports":[{"protocol":"TCP","port":5432}],"to":[{"podSelector":{"matchLabels":{"app":"db","io.cilium.k8s.policy.cluster":"east"}},"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"data"}}}]}`, ""},
		{"world", `{"fromEntities":["world"],"toPorts":[{"ports":[{"port":"443","protocol":"TCP"}]}]}`, "ingress",
			`{"ports":[{"protocol":"TCP","port":443}],"from":[{"ipBlock":{"cidr":"0.0.0.0/0"}},{"ipBlock":{"cidr":"::/0"}}]}`, ""},
		{"CIDR", `{"toCIDR":["203.0.113.0/24"],"toPorts":[{"ports":[{"port":"443","protocol":"ANY"}]}]}`, "egress",
			`{"ports":[{"protocol":"TCP","port":443},{"protocol":"UDP","port":443},{"protocol":"SCTP","port":443}],"to":[{"ipBlock":{"cidr":"203.0.113.0/24"}}]}`, ""},
		{"host: every peer", `{"fromEntities":["host"],"toPorts":[{"ports":[{"port":"10250","protocol":"TCP"}]}]}`, "ingress",
			`{"ports":[{"protocol":"TCP","port":10250}]}`, "entity host has no NetworkPolicy form"},
		{"toFQDNs: the internet", `{"toFQDNs":[{"matchName":"api.example.com"}],"toPorts":[{"ports":[{"port":"443","protocol":"TCP"}]}]}`, "egress",
			`{"ports":[{"protocol":"TCP","port":443}],"to":[{"ipBlock":{"cidr":"0.0.0.0/0"}},{"ipBlock":{"cidr":"::/0"}}]}`, "toFQDNs (api.example.com) has no NetworkPolicy form"},
		{"HTTP: the port whole", `{"fromEndpoints":[{"matchLabels":{"app":"web"}}],"toPorts":[{"ports":[{"port":"80","protocol":"TCP"}],"rules":{"http":[{"method":"GET"}]}}]}`, "ingress",
			`{"ports":[{"protocol":"TCP","port":80}],"from":[{"podSelector":{"matchLabels":{"app":"web"}}}]}`, "L7 rules (http)"},
		{"DNS for every name: nothing lost", `{"toEndpoints":[{"matchLabels":{"k8s-app":"kube-dns","k8s:io.kubernetes.pod.namespace":"kube-system"}}],"toPorts":[{"ports":[{"port":"53","protocol":"UDP"}],"rules":{"dns":[{"matchPattern":"*"}]}}]}`, "egress",
			`{"ports":[{"protocol":"UDP","port":53}],"to":[{"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}},"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}}}]}`, ""},
		{"ICMP: every protocol", `{"fromEntities":["world"],"icmps":[{"fields":[{"family":"IPv4","type":8}]}]}`, "ingress",
			`{"from":[{"ipBlock":{"cidr":"0.0.0.0/0"}},{"ipBlock":{"cidr":"::/0"}}]}`, "ICMP has no NetworkPolicy form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var spec api.Rule
			raw := fmt.Sprintf(`{"endpointSelector":{"matchLabels":{"app":"api"}},%q:[%s]}`, tt.dir, tt.rule)
			if err := json.Unmarshal([]byte(raw), &spec); err != nil {
				t.Fatal(err)
			}
			p := &Policy{Key: "shop/api", CNP: &ciliumv2.CiliumNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"}, Spec: &spec}}
			np, widened, err := NetworkPolicyOf(p)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			if tt.dir == "ingress" {
				got, _ = json.Marshal(np.Spec.Ingress[0])
			} else {
				got, _ = json.Marshal(np.Spec.Egress[0])
			}
			if string(got) != tt.want {
				t.Errorf("rule\n got %s\nwant %s", got, tt.want)
			}
			w := strings.Join(widened, "\n")
			if tt.widened == "" && w != "" || tt.widened != "" && !strings.Contains(w, tt.widened) {
				t.Errorf("widened %q, want %q", w, tt.widened)
			}
			if js, _ := NetworkPolicyJSON(np); !strings.Contains(string(js), `"podSelector":{"matchLabels":{"app":"api"}}`) {
				t.Errorf("subject: %s", js)
			}
		})
	}
}
