package compiler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/internal/flowgen"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
	"github.com/policypilot/ppc/rules"
)

// TestShardedDecideEqualsWhole: deciding per shard of namespaces gives
// exactly the decisions of one evaluation over the whole graph, for every
// real sample and generated captures, under the settings that change what
// the default pack writes; one with a clusterwide baseline is not sharded.
func TestShardedDecideEqualsWhole(t *testing.T) {
	type capture struct {
		name string
		g    *ir.Graph
	}
	var captures []capture
	for _, f := range realSamples(t) {
		for _, denied := range []bool{false, true} {
			opts := compiler.Options{StopAfter: compiler.StageNormalize}
			opts.Learn.Lower.IncludeDenied = denied
			name := filepath.Base(f)
			if denied {
				name += "/include-denied"
			}
			captures = append(captures, capture{name, compile(t, []string{f}, opts).Graph})
		}
	}
	gen := func(name string, write func(*bytes.Buffer) error) {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), name+".json")
		if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		captures = append(captures, capture{name, compile(t, []string{f}, compiler.Options{StopAfter: compiler.StageNormalize}).Graph})
	}
	gen("flowgen", func(b *bytes.Buffer) error {
		return flowgen.Write(b, flowgen.Config{Flows: 6000, Workloads: 60, Namespaces: 12, Peers: 12, Seed: 3})
	})
	gen("scenario", func(b *bytes.Buffer) error { _, err := flowgen.Scenario(b, 400, 5); return err })
	gen("probe-scenario", func(b *bytes.Buffer) error { _, err := flowgen.ProbeScenario(b, 400, 7); return err })

	// Two clusters (ClusterMesh): the parts of the shard context are told.
	captures = append(captures, capture{"clustermesh", irtest.Graph(
		irtest.Workload("shop", "web", "app=web", "io.cilium.k8s.policy.cluster=east"),
		irtest.Workload("shop", "api", "app=api", "io.cilium.k8s.policy.cluster=west"),
		irtest.Workload("pay", "api", "app=pay", "io.cilium.k8s.policy.cluster=west"),
		irtest.Workload("kube-system", "dns", "k8s-app=kube-dns", "io.cilium.k8s.policy.cluster=east"),
		irtest.Edge("shop/web", "shop/api", "TCP/8080"),
		irtest.Edge("shop/api", "pay/api", "TCP/9090"),
		irtest.Edge("shop/web", "kube-system/dns", "UDP/53"),
		irtest.Edge("pay/api", "entity:world", "TCP/443"),
		// A workload without identity labels (unselectable) and a DNS name
		// no rule can hold (unpeerable): the shards read both from the
		// context.
		irtest.Workload("pay", "masked"),
		irtest.Edge("pay/masked", "pay/api", "TCP/9090"),
		irtest.Edge("shop/web", "pay/masked", "TCP/7000"),
		irtest.Edge("shop/api", "fqdn:bad name!", "TCP/443"),
	)})
	settings := []struct {
		set      []string
		baseline bool // may write a clusterwide baseline: never sharded
	}{
		{nil, false},
		{[]string{"l7.http=observed"}, false},
		{[]string{"dns.names=observed", "dns.ingress=observed"}, false},
		{[]string{"world_peers=entity", "world_clients.public_service=2"}, false},
		{[]string{"world_egress.fold.min_addresses=1", "max_ports_per_rule=2"}, false},
		{[]string{"namespaces=[default, kube-system, ns-001]", "policy_name_prefix=ppc-"}, false},
		{[]string{"node_peers=clusterwide"}, true},
		{[]string{"dns.baseline=clusterwide"}, true},
	}
	ctx := context.Background()
	sharded, baselines := 0, 0
	for _, s := range settings {
		whole, err := rules.NewEngine(ctx, rules.Options{Set: s.set, ShardEdges: -1})
		if err != nil {
			t.Fatal(err)
		}
		parts, err := rules.NewEngine(ctx, rules.Options{Set: s.set, ShardEdges: 1, ContextNodes: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range captures {
			want, err := whole.Decide(ctx, c.g)
			if err != nil {
				t.Fatalf("%s %v: %v", c.name, s.set, err)
			}
			got, err := parts.Decide(ctx, c.g)
			if err != nil {
				t.Fatalf("%s %v: %v", c.name, s.set, err)
			}
			namespaces := map[string]bool{}
			for _, n := range c.g.Nodes {
				if n.Kind == ir.KindWorkload {
					namespaces[n.Namespace] = true
				}
			}
			clusterwide := false
			for _, p := range want.Policies {
				clusterwide = clusterwide || p.Clusterwide
			}
			switch {
			case clusterwide && got.Shards != 1:
				t.Errorf("%s %v: a clusterwide baseline, yet decided in %d shards", c.name, s.set, got.Shards)
			case clusterwide:
				baselines++
			case !s.baseline && len(namespaces) > 1 && len(c.g.Edges) > 1 && got.Shards < 2:
				t.Errorf("%s %v: %d namespaces with workloads, decided whole", c.name, s.set, len(namespaces))
			}
			if got.Shards > 1 {
				sharded++
			}
			got.Shards, want.Shards = 0, 0
			if !reflect.DeepEqual(got, want) {
				a, _ := json.MarshalIndent(want, "", " ")
				b, _ := json.MarshalIndent(got, "", " ")
				t.Errorf("%s %v: sharded decisions differ from the whole graph's:\nwhole:   %.3000s\nsharded: %.3000s", c.name, s.set, a, b)
			}
		}
	}
	if sharded < 40 || baselines < 10 {
		t.Errorf("only %d decisions were sharded and %d had a clusterwide baseline", sharded, baselines)
	}
	t.Logf("%d decisions sharded, %d with a clusterwide baseline decided whole", sharded, baselines)
}

// TestShardedCompileSameOutput: whole compiles, every stage after decide
// included, write byte-identical policies whether the decision is sharded
// or not, and the decide timing says in how many shards it ran.
func TestShardedCompileSameOutput(t *testing.T) {
	gen := filepath.Join(t.TempDir(), "flowgen.json")
	if err := flowgen.WriteFile(gen, flowgen.Config{Flows: 4000, Workloads: 40, Namespaces: 8, Peers: 10, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{gen, filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-400-l7-redirected-flows.json")} {
		whole := compile(t, []string{f}, compiler.Options{ShardEdges: -1})
		sharded := compile(t, []string{f}, compiler.Options{ShardEdges: 1})
		if !bytes.Equal(stream(t, whole), stream(t, sharded)) {
			t.Errorf("%s: the sharded compile wrote other policies", filepath.Base(f))
		}
		if whole.Decisions.Shards != 1 || sharded.Decisions.Shards < 2 {
			t.Errorf("%s: decided in %d and %d shards", filepath.Base(f), whole.Decisions.Shards, sharded.Decisions.Shards)
		}
		for _, tm := range sharded.Timings {
			if tm.Stage == compiler.StageDecide && tm.Note != fmt.Sprintf("%d shards of namespaces", sharded.Decisions.Shards) {
				t.Errorf("%s: decide timing note %q", filepath.Base(f), tm.Note)
			}
		}
	}
}
