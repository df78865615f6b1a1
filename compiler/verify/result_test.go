package verify

import (
	"testing"

	"github.com/policypilot/ppc/ir"
)

// TestResultLayers: the layer of each diagnostic is read from its code in
// one place, and agent-only means rejected by the agent, not the schema.
func TestResultLayers(t *testing.T) {
	d := func(l Layer, path ...string) *ir.Diagnostic {
		return &ir.Diagnostic{Code: l.Code(), Severity: ir.Error, Path: path, Msg: "bad"}
	}
	agentOnly := Result{Diagnostics: ir.Diagnostics{d(LayerAgent, "spec", "ingress[0]")}}
	both := Result{Diagnostics: ir.Diagnostics{d(LayerSchema), d(LayerAgent)}}
	org := Result{Diagnostics: ir.Diagnostics{d(LayerOrg), d(LayerOrg)}}
	valid := Result{}
	if !agentOnly.AgentOnly() || both.AgentOnly() || org.AgentOnly() || valid.AgentOnly() {
		t.Error("AgentOnly wrong")
	}
	if ls := org.Layers(); len(ls) != 1 || ls[0] != LayerOrg {
		t.Errorf("Layers = %v", ls)
	}
	rep := &Report{Results: []Result{agentOnly, both, org, valid}}
	if rep.AgentOnly() != 1 || rep.Invalid() != 3 {
		t.Errorf("AgentOnly %d Invalid %d", rep.AgentOnly(), rep.Invalid())
	}
	if by := rep.ByLayer(); by[LayerAgent] != 2 || by[LayerSchema] != 1 || by[LayerOrg] != 1 {
		t.Errorf("ByLayer = %v", by)
	}
	if got := Describe(agentOnly.Diagnostics[0]); got != "agent: spec.ingress[0]: bad" {
		t.Errorf("Describe = %q", got)
	}
	if LayerOf(&ir.Diagnostic{Code: "ppc_verify_duplicate"}) != "" {
		t.Error("a set warning has no layer")
	}
}
