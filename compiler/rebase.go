package compiler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/policydiff"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/ir"
)

// Annotations ppc keeps on its own policies when it updates them.
const (
	// AnnotationRulesLastUsed maps each rule (by RuleID) to the last time
	// an observed connection used it, as JSON.
	AnnotationRulesLastUsed = "ppc.policypilot.io/rules-last-used"
	// AnnotationStaleRules lists the rules no flow used for longer than
	// --stale-after (by path), kept until --prune.
	AnnotationStaleRules = "ppc.policypilot.io/stale-rules"
	managedByLabel       = "app.kubernetes.io/managed-by"
)

// RebaseOptions configure Rebase.
type RebaseOptions struct {
	// StaleAfter: a rule of ppc's policies no flow used for longer than
	// this (up to the flows' last time) is stale (0: never).
	StaleAfter time.Duration
	// Prune removes stale rules instead of marking them.
	Prune bool
	// Agent and Namespace as for ReplayPolicies.
	Agent     agent.Settings
	Namespace string
}

// Rebased is the result of updating a base directory's policies.
type Rebased struct {
	// Docs are the documents to write: ppc's own policies, updated, and
	// the new ones. Hand-written policies are not among them: they stay
	// as they are.
	Docs []Doc
	// Kept are the hand-written policies of the base, untouched.
	Kept []manifest.Object
	// Added counts the rules added to ppc's policies of the base, and the
	// new policies; Stale and Pruned the stale rules marked and removed.
	AddedRules, NewPolicies, Stale, Pruned int
	// Notes say what was left alone and why.
	Notes []string
	// Diff compares the base with the result.
	Diff *policydiff.Result
	// Replay is the final set replayed over the flows.
	Replay *PolicyReplay
}

// RuleID names a rule across runs, whatever its position: a hash of its
// canonical form (policydiff.RuleKey) and section.
func RuleID(section string, rule any) string {
	h := sha256.Sum256([]byte(section + "\x00" + policydiff.RuleKey(rule)))
	return hex.EncodeToString(h[:6])
}

// Rebase starts from the policies in base (a directory compiled by ppc
// and edited by people) instead of writing res's policies from scratch:
// hand-written policies (no app.kubernetes.io/managed-by: ppc label) are
// kept untouched; each of ppc's own policies keeps every rule it has (a
// rule a person added included) and gains the rules of res's policy of
// the same name that it lacks; res's other policies are added. Rules of
// ppc's policies that no observed connection used for longer than
// StaleAfter are marked (annotation) or, with Prune, removed (a section
// left empty isolates, as ppc writes it). The result is verified and
// replayed over res's graph: every observed connection must still be
// allowed.
func Rebase(ctx context.Context, res *Result, base []manifest.Object, o RebaseOptions) (*Rebased, error) {
	out := &Rebased{}
	owned := map[[2]string]manifest.Object{}
	hand := map[[2]string]bool{}
	for _, b := range base {
		switch b.Kind {
		case "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy", "NetworkPolicy":
		default:
			continue
		}
		k := [2]string{b.Namespace, b.Name}
		if (b.Kind == "CiliumNetworkPolicy" || b.Kind == "CiliumClusterwideNetworkPolicy") && managed(b.JSON) {
			owned[k] = b
			continue
		}
		hand[k] = true
		out.Kept = append(out.Kept, b)
	}
	var merged []map[string]any // ppc's policies, updated or new, by name
	var objs []manifest.Object
	seen := map[[2]string]bool{}
	// current are the rules this compile decides, by policy: never stale
	// (some, such as the DNS rule, are written whether or not a flow used
	// them). A policy this compile does not write (its workload is not in
	// the flows) is not judged at all: nothing says its rules went unused.
	current := map[string]map[string]bool{}
	for _, d := range res.Docs {
		if d.Kind != "CiliumNetworkPolicy" && d.Kind != "CiliumClusterwideNetworkPolicy" {
			return nil, &InputError{Err: fmt.Errorf("only Cilium's policies can update a base; %s is a %s (compile them for the cilium target)", d.Path(), d.Kind)}
		}
		k := [2]string{d.Namespace, d.Name}
		seen[k] = true
		var nw map[string]any
		if err := json.Unmarshal(d.JSON, &nw); err != nil {
			return nil, err
		}
		cur := map[string]bool{}
		for _, sec := range []string{"ingress", "egress"} {
			for _, r := range list(spec(nw)[sec]) {
				cur[RuleID(sec, r)] = true
			}
		}
		current[policyKey(nw)] = cur
		if hand[k] {
			out.Notes = append(out.Notes, fmt.Sprintf("%s/%s is hand-written in the base: kept as it is, ppc's policy of that name not written", d.Namespace, d.Name))
			continue
		}
		b, ok := owned[k]
		if !ok || d.Kind == "CiliumClusterwideNetworkPolicy" {
			// New, or a clusterwide baseline: the rule packs' current one
			// replaces ppc's earlier one.
			if !ok {
				out.NewPolicies++
			}
			merged = append(merged, nw)
			continue
		}
		var old map[string]any
		if err := json.Unmarshal(b.JSON, &old); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Where(), err)
		}
		bs, ns := spec(old), spec(nw)
		if policydiff.RuleKey(bs["endpointSelector"]) != policydiff.RuleKey(ns["endpointSelector"]) {
			out.Notes = append(out.Notes, fmt.Sprintf("%s/%s selects other pods in the base than the flows ask: kept as it is (compile without --base to replace it)", d.Namespace, d.Name))
			merged = append(merged, old)
			continue
		}
		for _, sec := range []string{"ingress", "egress"} {
			have := map[string]bool{}
			rules, _ := bs[sec].([]any)
			for _, r := range rules {
				have[policydiff.RuleKey(r)] = true
			}
			for _, r := range list(ns[sec]) {
				if m, _ := r.(map[string]any); len(m) == 0 {
					continue // the isolating {} of a section with no traffic
				}
				if !have[policydiff.RuleKey(r)] {
					rules = append(rules, r)
					out.AddedRules++
				}
			}
			if rules != nil {
				bs[sec] = dropIsolate(rules)
			}
		}
		// ppc's provenance annotations follow the new compile.
		copyAnnotations(old, nw)
		merged = append(merged, old)
	}
	for k, b := range owned {
		if !seen[k] {
			var old map[string]any
			if err := json.Unmarshal(b.JSON, &old); err != nil {
				return nil, fmt.Errorf("%s: %w", b.Where(), err)
			}
			merged = append(merged, old)
		}
	}
	sort.Slice(merged, func(i, j int) bool { return policyKey(merged[i]) < policyKey(merged[j]) })
	for _, m := range merged {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		md, _ := m["metadata"].(map[string]any)
		ns, _ := md["namespace"].(string)
		kind, _ := m["kind"].(string)
		objs = append(objs, manifest.Object{Pos: ir.Pos{File: "(rebased)", Line: 1}, Doc: 1, APIVersion: "cilium.io/v2", Kind: kind,
			Namespace: ns, Name: fmt.Sprint(md["name"]), JSON: b})
	}
	// Which rules the flows use, and since when each is unused.
	pr, err := ReplayPolicies(ctx, nil, res.Graph, append(append([]manifest.Object(nil), objs...), out.Kept...), o.Namespace, o.Agent, nil)
	if err != nil {
		return nil, err
	}
	if len(pr.Invalid) > 0 {
		return nil, &InputError{Err: fmt.Errorf("the updated policies do not verify: %s", pr.Invalid[0])}
	}
	now := lastSeen(res.Graph)
	used := ruleUse(pr.Report)
	for i, m := range merged {
		name := policyKey(m)
		cur, judged := current[name]
		if !judged {
			continue
		}
		stale, pruned := markStale(m, name, used, cur, now, o)
		out.Stale += stale
		out.Pruned += pruned
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		objs[i].JSON = b
	}
	if out.Pruned > 0 { // pruning changed what the flows meet: prove it again
		if pr, err = ReplayPolicies(ctx, nil, res.Graph, append(append([]manifest.Object(nil), objs...), out.Kept...), o.Namespace, o.Agent, nil); err != nil {
			return nil, err
		}
	}
	out.Replay = pr
	for _, x := range pr.Report.Results {
		if !x.Verdict.Allowed() && res.Decisions.Excluded[x.Edge.ID] == "" {
			return nil, &InputError{Err: fmt.Errorf("the updated policies would deny observed connection %s", x.Edge.ID)}
		}
	}
	for _, ob := range objs {
		out.Docs = append(out.Docs, Doc{APIVersion: ob.APIVersion, Kind: ob.Kind, Namespace: ob.Namespace, Name: ob.Name, JSON: ob.JSON})
	}
	var baseSet []manifest.Object
	for _, b := range base {
		if b.Kind == "CiliumNetworkPolicy" || b.Kind == "CiliumClusterwideNetworkPolicy" || b.Kind == "NetworkPolicy" {
			baseSet = append(baseSet, b)
		}
	}
	if out.Diff, err = policydiff.Compare(baseSet, append(objs, out.Kept...)); err != nil {
		return nil, err
	}
	return out, nil
}

// markStale updates m's rules-last-used annotation from this replay (a
// rule of current, which this compile decides, counts as used now) and
// marks (or prunes) the rules unused for longer than o.StaleAfter.
func markStale(m map[string]any, name string, used map[string]time.Time, current map[string]bool, now time.Time, o RebaseOptions) (stale, pruned int) {
	md, _ := m["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		md["annotations"] = ann
	}
	last := map[string]string{}
	if s, ok := ann[AnnotationRulesLastUsed].(string); ok {
		_ = json.Unmarshal([]byte(s), &last) // a hand-mangled value restarts the clocks
	}
	next := map[string]string{}
	var marks []string
	sp := spec(m)
	for _, sec := range []string{"ingress", "egress"} {
		rules, ok := sp[sec].([]any)
		if !ok {
			continue
		}
		var keep []any
		for i, r := range rules {
			if mm, _ := r.(map[string]any); len(mm) == 0 {
				keep = append(keep, r)
				continue
			}
			id := RuleID(sec, r)
			path := fmt.Sprintf("spec.%s[%d]", sec, i)
			t, hit := used[name+" "+path]
			if current[id] {
				t, hit = now, true
			}
			if !hit {
				t, _ = time.Parse(time.RFC3339, last[id])
				if t.IsZero() {
					t = now // first seen unused: the clock starts now
				}
			}
			next[id] = t.UTC().Format(time.RFC3339)
			if o.StaleAfter > 0 && now.Sub(t) > o.StaleAfter {
				if o.Prune {
					pruned++
					delete(next, id)
					continue
				}
				stale++
				marks = append(marks, fmt.Sprintf("%s (unused since %s)", path, t.UTC().Format(time.RFC3339)))
			}
			keep = append(keep, r)
		}
		if o.Prune {
			if len(keep) == 0 {
				keep = []any{map[string]any{}} // still isolated: fail closed
			}
			sp[sec] = keep
		}
	}
	b, _ := json.Marshal(next)
	ann[AnnotationRulesLastUsed] = string(b)
	if len(marks) > 0 {
		ann[AnnotationStaleRules] = strings.Join(marks, ", ")
	} else {
		delete(ann, AnnotationStaleRules)
	}
	return stale, pruned
}

// ruleUse is when each rule ("namespace/name path") was last used by an
// observed connection.
func ruleUse(r *replay.Report) map[string]time.Time {
	out := map[string]time.Time{}
	for _, x := range r.Results {
		t := x.Edge.LastSeen
		for _, pt := range []replay.Point{x.Verdict.Egress, x.Verdict.Ingress} {
			for _, ref := range pt.By() {
				k := ref.Policy + " " + ref.Path
				if t.After(out[k]) || out[k].IsZero() {
					out[k] = t
				}
			}
		}
	}
	return out
}

// lastSeen is the time of the graph's last observation: "now" for
// staleness, so that the same flows give the same output.
func lastSeen(g *ir.Graph) time.Time {
	var t time.Time
	for _, e := range g.Edges {
		if e.LastSeen.After(t) {
			t = e.LastSeen
		}
	}
	return t
}

func managed(js []byte) bool {
	var m struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	return json.Unmarshal(js, &m) == nil && m.Metadata.Labels[managedByLabel] == "ppc"
}

func spec(m map[string]any) map[string]any {
	s, _ := m["spec"].(map[string]any)
	if s == nil {
		s = map[string]any{}
		m["spec"] = s
	}
	return s
}

func list(v any) []any {
	xs, _ := v.([]any)
	return xs
}

// dropIsolate removes the isolating {} from a section that has rules.
func dropIsolate(rules []any) []any {
	if len(rules) < 2 {
		return rules
	}
	var out []any
	for _, r := range rules {
		if m, _ := r.(map[string]any); len(m) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// copyAnnotations sets ppc's provenance annotations of nw on old.
func copyAnnotations(old, nw map[string]any) {
	omd, _ := old["metadata"].(map[string]any)
	nmd, _ := nw["metadata"].(map[string]any)
	if omd == nil || nmd == nil {
		return
	}
	oa, _ := omd["annotations"].(map[string]any)
	if oa == nil {
		oa = map[string]any{}
		omd["annotations"] = oa
	}
	na, _ := nmd["annotations"].(map[string]any)
	for k, v := range na {
		if strings.HasPrefix(k, "ppc.policypilot.io/") {
			oa[k] = v
		}
	}
}

// policyKey names a policy as replay does: "namespace/name", or "name"
// for a clusterwide one.
func policyKey(m map[string]any) string {
	md, _ := m["metadata"].(map[string]any)
	if ns, _ := md["namespace"].(string); ns != "" {
		return ns + "/" + fmt.Sprint(md["name"])
	}
	return fmt.Sprint(md["name"])
}
