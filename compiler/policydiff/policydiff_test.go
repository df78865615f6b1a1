package policydiff

import (
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler/manifest"
)

func parse(t *testing.T, y string) []manifest.Object {
	t.Helper()
	objs, ds := manifest.Parse("p.yaml", []byte(y))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	return objs
}

const cnp = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a, namespace: ns}\n"

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           string // status, then added (+) and removed (-) sections, then settings (~)
	}{
		{"rule order, key order and metadata do not count",
			cnp + "spec:\n  endpointSelector: {}\n  egress: [{toEntities: [world]}, {toCIDR: [10.0.0.0/8]}]\n",
			strings.Replace(cnp, "namespace: ns}", "namespace: ns, annotations: {x: y}}", 1) + "spec:\n  egress: [{toCIDR: [10.0.0.0/8]}, {toEntities: [world]}]\n  endpointSelector: {}\n",
			""},
		{"equivalent spellings of ports and peers do not count",
			cnp + "spec:\n  endpointSelector: {}\n  egress: [{toEntities: [world, cluster], toPorts: [{ports: [{port: \"443\", protocol: TCP}, {port: \"080\", protocol: tcp}]}, {ports: [{port: \"53\"}]}]}]\n",
			cnp + "spec:\n  endpointSelector: {}\n  egress: [{toEntities: [cluster, world], toPorts: [{ports: [{port: \"53\", protocol: ANY}]}, {ports: [{port: \"80\", protocol: TCP}, {port: \"443\", protocol: TCP}]}]}]\n",
			""},
		{"a protocol or a port that differs counts",
			cnp + "spec:\n  endpointSelector: {}\n  egress: [{toPorts: [{ports: [{port: \"53\"}]}]}]\n",
			cnp + "spec:\n  endpointSelector: {}\n  egress: [{toPorts: [{ports: [{port: \"53\", protocol: UDP}]}]}]\n",
			"changed +egress -egress"},
		{"the order of L7 rules does not count (any of them allows)",
			cnp + "spec:\n  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{method: GET}, {method: PUT}]}}]}]\n",
			cnp + "spec:\n  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{method: PUT}, {method: GET}]}}]}]\n",
			""},
		{"a rule moved from egress to egressDeny",
			cnp + "spec:\n  endpointSelector: {}\n  egress: [{toEntities: [world]}]\n",
			cnp + "spec:\n  endpointSelector: {}\n  egressDeny: [{toEntities: [world]}]\n",
			"changed +egressDeny -egress"},
		{"specs: rules are keyed by their selector",
			cnp + "specs:\n- endpointSelector: {matchLabels: {app: x}}\n  ingress: [{fromEntities: [host]}]\n- endpointSelector: {matchLabels: {app: y}}\n  ingress: [{fromEntities: [world]}]\n",
			cnp + "specs:\n- endpointSelector: {matchLabels: {app: y}}\n  ingress: [{fromEntities: [host]}]\n- endpointSelector: {matchLabels: {app: x}}\n  ingress: [{fromEntities: [world]}]\n",
			"changed +ingress +ingress -ingress -ingress"},
		{"enableDefaultDeny and the selector are settings",
			cnp + "spec:\n  endpointSelector: {matchLabels: {app: x}}\n  ingress: [{fromEntities: [host]}]\n",
			cnp + "spec:\n  endpointSelector: {matchLabels: {app: z}}\n  enableDefaultDeny: {ingress: false}\n  ingress: [{fromEntities: [host]}]\n",
			"changed +ingress -ingress ~3"},
		{"clusterwide node policies and other kinds",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: h}\nspec:\n  nodeSelector: {}\n  ingress: [{fromEntities: [cluster]}]\n",
			"",
			"removed -ingress"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Compare(parse(t, tc.old), parse(t, tc.new))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res.Policies {
				got = append(got, string(p.Status))
				for _, r := range p.AddedRules {
					got = append(got, "+"+r.Section)
				}
				for _, r := range p.RemovedRules {
					got = append(got, "-"+r.Section)
				}
				if len(p.Settings) > 0 {
					got = append(got, "~"+string(rune('0'+len(p.Settings))))
				}
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("diff = %q, want %q (%+v)", strings.Join(got, " "), tc.want, res.Policies)
			}
			if res.Empty() != (tc.want == "") {
				t.Errorf("Empty() = %v", res.Empty())
			}
		})
	}
}

func TestCompareDuplicate(t *testing.T) {
	two := cnp + "spec: {endpointSelector: {}}\n---\n" + cnp + "spec: {endpointSelector: {}, ingress: [{}]}\n"
	if _, err := Compare(parse(t, two), nil); err == nil || !strings.Contains(err.Error(), "is also defined at p.yaml:1") {
		t.Errorf("a policy defined twice in one set: %v", err)
	}
}
