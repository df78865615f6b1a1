package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/policy/api"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/internal/parallel"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/schemas"
)

// Layer names the check that rejected an object.
type Layer string

// Layers, in the order they run.
const (
	// LayerSchema: the API server would reject the object.
	LayerSchema Layer = "schema"
	// LayerAgent: the API server accepts it, the Cilium agent rejects it
	// and the policy is silently not enforced.
	LayerAgent Layer = "agent"
	// LayerPPC: ppc's own CUE schema (compile output only).
	LayerPPC Layer = "ppc"
	// LayerOrg: an organisation CUE schema.
	LayerOrg Layer = "org"
)

// Code is the diagnostic code of a layer's errors.
func (l Layer) Code() string { return "ppc_verify_" + string(l) }

// Object is one policy document to verify.
type Object struct {
	Pos  ir.Pos // file and line (or document index) it came from
	JSON []byte // the document exactly as it is (or will be) written
}

// Options configure a verifier.
type Options struct {
	Agent agent.Settings
	// PPC adds ppc's own schema (for compile output).
	PPC bool
	// Org are organisation schemas every object must satisfy.
	Org []*schemas.Schema
}

// Verifier checks policies. It is safe for concurrent use.
type Verifier struct {
	opts   Options
	crds   map[string]*crdValidator
	logger *slog.Logger
}

// New builds a verifier: it loads Cilium's CRDs and applies the agent
// settings (process-wide; see package agent).
func New(opts Options) (*Verifier, error) {
	if err := agent.Apply(opts.Agent); err != nil {
		return nil, err
	}
	v := &Verifier{opts: opts, crds: map[string]*crdValidator{}, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range []string{"ciliumnetworkpolicies.yaml", "ciliumclusterwidenetworkpolicies.yaml"} {
		c, err := newCRDValidator(f)
		if err != nil {
			return nil, fmt.Errorf("load Cilium CRD %s: %w", f, err)
		}
		v.crds[c.kind] = c
	}
	return v, nil
}

// Kinds are the kinds the verifier understands.
func (v *Verifier) Kinds() []string {
	var ks []string
	for k := range v.crds {
		ks = append(ks, k)
	}
	ks = append(ks, NetworkPolicyKind)
	sort.Strings(ks)
	return ks
}

// Supports reports whether kind is one the verifier checks: Cilium's
// CRDs, and Kubernetes' NetworkPolicy.
func (v *Verifier) Supports(kind string) bool {
	return v.crds[kind] != nil || kind == NetworkPolicyKind
}

// Verify runs every layer on obj and returns every problem found. Each
// diagnostic's Object is "namespace/name" (or "name" for clusterwide
// policies), Path the data path and Code the layer.
func (v *Verifier) Verify(ctx context.Context, obj Object) ir.Diagnostics {
	var ds ir.Diagnostics
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(obj.JSON))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return ir.Diagnostics{v.diag(LayerSchema, obj, "", nil, fmt.Sprintf("not a JSON object: %v", err))}
	}
	kind, _ := m["kind"].(string)
	name := objectName(m)
	if !v.Supports(kind) {
		return ir.Diagnostics{v.diag(LayerSchema, obj, name, []string{"kind"}, fmt.Sprintf("unsupported kind %q (want %s)", kind, strings.Join(v.Kinds(), " or ")))}
	}
	if kind == NetworkPolicyKind {
		return append(v.netpolLayers(obj, name), v.cueLayers(obj, name, kind)...)
	}
	// Layer 1: the API server.
	unknown, errs := v.crds[kind].check(ctx, m, obj.JSON)
	for _, u := range unknown {
		ds = append(ds, v.diag(LayerSchema, obj, name, splitPath(u), fmt.Sprintf("unknown field %q", u)))
	}
	for _, e := range errs {
		ds = append(ds, v.fieldDiag(obj, name, e))
	}
	// In order of path (the notes on the object as a whole last): the
	// validator walks a schema's properties in a Go map's order, so the
	// same errors came in another order each run.
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ir.JoinPath(ds[i].Path), ir.JoinPath(ds[j].Path)
		if (a == "") != (b == "") {
			return b == ""
		}
		if a != b {
			return a < b
		}
		return ds[i].Msg < ds[j].Msg
	})
	// Layer 2: the agent.
	ds = append(ds, v.agentLayer(obj, name, kind)...)
	// Layers 3 and 4: CUE.
	return append(ds, v.cueLayers(obj, name, kind)...)
}

// cueLayers runs ppc's CUE schema (compile output; it describes the
// CiliumNetworkPolicy ppc writes) and the organisation schemas.
func (v *Verifier) cueLayers(obj Object, name, kind string) ir.Diagnostics {
	var ds ir.Diagnostics
	var cueSchemas []*schemas.Schema
	// ppc's schema describes the namespaced CiliumNetworkPolicies it
	// writes; its other kinds (NetworkPolicy, the clusterwide baseline)
	// are held to the API server, the agent and replay.
	if v.opts.PPC && kind == "CiliumNetworkPolicy" {
		cueSchemas = append(cueSchemas, schemas.PPC())
	}
	cueSchemas = append(cueSchemas, v.opts.Org...)
	for _, s := range cueSchemas {
		layer := LayerOrg
		if s.Name == "ppc" {
			layer = LayerPPC
		}
		vs, err := s.Validate(obj.Pos.String(), obj.JSON)
		if err != nil {
			ds = append(ds, v.diag(layer, obj, name, nil, err.Error()))
			continue
		}
		for _, x := range vs {
			d := v.diag(layer, obj, name, x.Path, x.Msg)
			if layer == LayerOrg {
				d.Details = append(d.Details, "schema "+s.Name)
			}
			ds = append(ds, d)
		}
	}
	return ds
}

// VerifyAll verifies objs on every core; the i-th diagnostics are
// objs[i]'s, as Verify gives them.
func (v *Verifier) VerifyAll(ctx context.Context, objs []Object) []ir.Diagnostics {
	out := make([]ir.Diagnostics, len(objs))
	parallel.For(ctx, len(objs), func(i int) { out[i] = v.Verify(ctx, objs[i]) })
	return out
}

func objectName(m map[string]any) string {
	md, _ := m["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	if ns != "" {
		return ns + "/" + name
	}
	return name
}

func (v *Verifier) diag(l Layer, obj Object, name string, path []string, msg string) *ir.Diagnostic {
	d := ir.Errorf(l.Code(), obj.Pos, "%s", msg)
	d.Stage = "verify"
	d.Object = name
	d.Path = path
	return d
}

func (v *Verifier) fieldDiag(obj Object, name string, e *field.Error) *ir.Diagnostic {
	if e.Field == "<nil>" {
		// Errors of the schema as a whole (oneOf/anyOf, the note that
		// CEL rules were skipped) name their path in the message.
		var path []string
		if rest, ok := strings.CutPrefix(e.Detail, `"`); ok {
			if p, _, ok := strings.Cut(rest, `"`); ok {
				path = splitPath(p)
			}
		}
		return v.diag(LayerSchema, obj, name, path, e.Detail)
	}
	return v.diag(LayerSchema, obj, name, splitPath(e.Field), e.ErrorBody())
}

// agentLayer decodes the object into Cilium's types and runs the agent's
// Parse on a copy. Parse stops at the first problem; to report every rule
// that has one, each rule is then sanitized on its own to locate it.
func (v *Verifier) agentLayer(obj Object, name, kind string) (ds ir.Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			ds = append(ds, v.diag(LayerAgent, obj, name, nil, fmt.Sprintf("Cilium's parser panicked: %v", r)))
		}
	}()
	agentMsg := func(path []string, msg string) *ir.Diagnostic {
		d := v.diag(LayerAgent, obj, name, path, stableAgentMsg(msg))
		d.Details = append(d.Details, "the API server accepts this, but the Cilium agent rejects the policy and does not enforce it")
		return d
	}
	var specs []*api.Rule
	var spec *api.Rule
	var parse func() error
	switch kind {
	case "CiliumNetworkPolicy":
		var cnp ciliumv2.CiliumNetworkPolicy
		if err := json.Unmarshal(obj.JSON, &cnp); err != nil {
			return ir.Diagnostics{agentMsg(nil, "cannot decode: "+err.Error())}
		}
		spec, specs = cnp.Spec, cnp.Specs
		c := cnp.DeepCopy()
		parse = func() error { _, err := c.Parse(v.logger, v.opts.Agent.ClusterName); return err }
	default:
		var ccnp ciliumv2.CiliumClusterwideNetworkPolicy
		if err := json.Unmarshal(obj.JSON, &ccnp); err != nil {
			return ir.Diagnostics{agentMsg(nil, "cannot decode: "+err.Error())}
		}
		spec, specs = ccnp.Spec, ccnp.Specs
		c := ccnp.DeepCopy()
		parse = func() error { _, err := c.Parse(v.logger, v.opts.Agent.ClusterName); return err }
	}
	err := parse()
	if err == nil {
		return nil
	}
	// Locate the problem rule by rule.
	var located ir.Diagnostics
	locate := func(prefix []string, r *api.Rule) {
		if r == nil {
			return
		}
		probe := base(r)
		probe.Ingress = []api.IngressRule{{}}
		if err := probe.Sanitize(); err != nil {
			located = append(located, agentMsg(prefix, err.Error()))
			return
		}
		sides := []struct {
			name string
			n    int
			only func(i int) *api.Rule
		}{
			{"ingress", len(r.Ingress), func(i int) *api.Rule { c := base(r); c.Ingress = []api.IngressRule{*r.Ingress[i].DeepCopy()}; return c }},
			{"ingressDeny", len(r.IngressDeny), func(i int) *api.Rule {
				c := base(r)
				c.IngressDeny = []api.IngressDenyRule{*r.IngressDeny[i].DeepCopy()}
				return c
			}},
			{"egress", len(r.Egress), func(i int) *api.Rule { c := base(r); c.Egress = []api.EgressRule{*r.Egress[i].DeepCopy()}; return c }},
			{"egressDeny", len(r.EgressDeny), func(i int) *api.Rule {
				c := base(r)
				c.EgressDeny = []api.EgressDenyRule{*r.EgressDeny[i].DeepCopy()}
				return c
			}},
		}
		for _, s := range sides {
			for i := 0; i < s.n; i++ {
				if err := s.only(i).Sanitize(); err != nil {
					p := append(append([]string(nil), prefix...), s.name, fmt.Sprintf("[%d]", i))
					located = append(located, agentMsg(p, firstCombining(func() *api.Rule { return s.only(i) }, err.Error())))
				}
			}
		}
	}
	locate([]string{"spec"}, spec)
	for i, r := range specs {
		locate([]string{"specs", fmt.Sprintf("[%d]", i)}, r)
	}
	if len(located) > 0 {
		return located
	}
	return ir.Diagnostics{agentMsg(nil, err.Error())}
}

// combining is the agent's message for a rule with two kinds of peer.
var combining = regexp.MustCompile(`^combining (\S+) and (\S+) is not supported yet$`)

// stableAgentMsg is the agent's message with the two kinds of peer it
// names in alphabetical order: Cilium finds them by iterating a Go map,
// so the same rule gave "combining ToCIDR and ToEndpoints" in one run and
// "combining ToEndpoints and ToCIDR" in the next.
func stableAgentMsg(msg string) string {
	if m := combining.FindStringSubmatch(msg); m != nil && m[1] > m[2] {
		return "combining " + m[2] + " and " + m[1] + " is not supported yet"
	}
	return msg
}

// firstCombining makes the agent's "combining A and B" for a rule of
// three or more kinds of peer the same every run: Cilium names the first
// pair it meets iterating a Go map, so the rule with toEndpoints, toCIDR
// and toEntities was "combining ToCIDR and ToEndpoints" in one run and
// "combining ToCIDR and ToEntities" in the next. only returns a fresh copy
// of the rule (one ingress, ingressDeny, egress or egressDeny rule). Which
// kinds the rule has and which pairs Cilium rejects are asked of Cilium's
// own Sanitize: the kinds its messages name, each cleared in turn (a kind is
// the rule's field of that name), then each pair of them alone, in
// alphabetical order; the first it rejects is the message. Any other
// message is returned as it is.
func firstCombining(only func() *api.Rule, msg string) string {
	pair := func(msg string) (a, b string, ok bool) {
		m := combining.FindStringSubmatch(msg)
		if m == nil || m[1] == "ToPorts" || m[2] == "ToPorts" { // "combining ToFQDNs and ToPorts": one kind
			return "", "", false
		}
		return m[1], m[2], true
	}
	if _, _, ok := pair(msg); !ok {
		return msg
	}
	kinds := map[string]bool{}
	r := only()
	for range 64 { // a rule has a few kinds; each turn clears one
		err := r.Sanitize()
		if err == nil {
			break
		}
		a, b, ok := pair(err.Error())
		if !ok {
			break
		}
		kinds[a], kinds[b] = true, true
		if !clearField(r, a) {
			return stableAgentMsg(msg)
		}
	}
	names := slices.Sorted(maps.Keys(kinds))
	for i, a := range names {
		for _, b := range names[i+1:] {
			r := only()
			for _, c := range names {
				if c != a && c != b {
					clearField(r, c)
				}
			}
			if err := r.Sanitize(); err != nil {
				if _, _, ok := pair(err.Error()); ok {
					return stableAgentMsg(err.Error())
				}
			}
		}
	}
	return stableAgentMsg(msg)
}

// clearField zeroes the field of that name in r's one ingress,
// ingressDeny, egress or egressDeny rule; false when there is none.
func clearField(r *api.Rule, name string) bool {
	var side reflect.Value
	switch {
	case len(r.Ingress) == 1:
		side = reflect.ValueOf(&r.Ingress[0]).Elem()
	case len(r.IngressDeny) == 1:
		side = reflect.ValueOf(&r.IngressDeny[0]).Elem()
	case len(r.Egress) == 1:
		side = reflect.ValueOf(&r.Egress[0]).Elem()
	case len(r.EgressDeny) == 1:
		side = reflect.ValueOf(&r.EgressDeny[0]).Elem()
	default:
		return false
	}
	f := side.FieldByName(name)
	if !f.IsValid() || !f.CanSet() {
		return false
	}
	f.SetZero()
	return true
}

// base copies a rule's selectors without its rules.
func base(r *api.Rule) *api.Rule {
	return &api.Rule{EndpointSelector: *r.EndpointSelector.DeepCopy(), NodeSelector: *r.NodeSelector.DeepCopy()}
}
