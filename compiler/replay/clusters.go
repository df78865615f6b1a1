package replay

import (
	"sort"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/ir"
)

// Clusters are the cluster names g's workloads carry
// (io.cilium.k8s.policy.cluster), sorted.
func Clusters(g *ir.Graph) []string {
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		if c := ClusterOf(n); c != "" && n.Kind == ir.KindWorkload {
			seen[c] = true
		}
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// ClusterSet is a policy set per cluster: Clusters[i]'s agents enforce
// Policies[i]. A single cluster named "" is the plain case: one engine
// with the settings' cluster name, enforcing at every workload.
type ClusterSet struct {
	Clusters []string
	Policies [][]Policy
}

// Mesh is a ClusterSet loaded: one engine per cluster, named after it
// and enforcing only at its own workloads, as a ClusterMesh's agents do.
type Mesh struct {
	clusters []string
	engines  []*Engine
}

// Load builds the engines of the set with g's identities.
func (cs ClusterSet) Load(g *ir.Graph, s agent.Settings) (*Mesh, error) {
	m := &Mesh{clusters: cs.Clusters}
	for i, c := range cs.Clusters {
		settings := s
		if c != "" {
			settings.ClusterName = c
		}
		eng, err := New(settings)
		if err != nil {
			m.Release()
			return nil, err
		}
		m.engines = append(m.engines, eng)
		if c != "" {
			eng.EnforceOnly(c)
		}
		if err := eng.Load(cs.Policies[i]); err != nil {
			m.Release()
			return nil, err
		}
		if err := eng.AddGraph(g); err != nil {
			m.Release()
			return nil, err
		}
	}
	return m, nil
}

// Run replays g through the set's engines and merges the verdicts (see
// Merge); with probe set it also runs the least-privilege probe, in the
// same pass over the identities.
func (cs ClusterSet) Run(g *ir.Graph, s agent.Settings, probe *ProbeOptions) (*Report, *ProbeReport, error) {
	m, err := cs.Load(g, s)
	if err != nil {
		return nil, nil, err
	}
	defer m.Release()
	return m.run(g, true, probe)
}

// Release releases every engine of the mesh (Engine.Release); a released
// mesh is empty.
func (m *Mesh) Release() {
	if m == nil {
		return
	}
	for _, e := range m.engines {
		e.Release()
	}
}

// Replay checks every edge of g in every cluster and merges the reports:
// a connection's egress verdict comes from its source's cluster, its
// ingress verdict from its destination's.
func (m *Mesh) Replay(g *ir.Graph) (*Report, error) {
	r, _, err := m.run(g, true, nil)
	return r, err
}

// Check is the verdict for one connection: egress as the source's
// cluster enforces it, ingress as the destination's.
func (m *Mesh) Check(src, dst *ir.Node, protocol string, port uint16) (Verdict, error) {
	var v Verdict
	for _, e := range m.engines {
		atS, atD := e.enforces(src), e.enforces(dst)
		if !atS && !atD {
			continue
		}
		proto, sid, did, err := e.resolve(src, dst, protocol)
		if err != nil {
			return v, err
		}
		vk, err := e.check(atS, atD, sid, did, proto, port)
		if err != nil {
			return v, err
		}
		if atS {
			v.Egress = vk.Egress
		}
		if atD {
			v.Ingress = vk.Ingress
		}
	}
	return v, nil
}
