// Package lint gates CiliumNetworkPolicies with lint packs: Rego rules in
// the style of Conftest (deny, warn and violation rules under package
// ppc.lint.*, producing messages or {msg, path, ...} objects), an embedded
// default pack of Cilium best practices, exceptions per policy (an
// annotation) or per pack (its config.yaml), and the verification layers
// of package verify, whose errors are lint errors too. Packs run with the
// same restricted capabilities as the compile packs (no network, files,
// clock or randomness) plus one builtin, cilium.identity_label, that asks
// Cilium's own label filter whether a label key is part of identities.
package lint

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/types"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/rules"
)

//go:embed packs/cilium/*.rego packs/cilium/config.yaml
var defaultFS embed.FS

// DefaultPack is the embedded pack of Cilium best practices.
func DefaultPack() (*rules.Pack, error) {
	sub, err := fs.Sub(defaultFS, "packs/cilium")
	if err != nil {
		return nil, err
	}
	return rules.LoadFS("cilium", sub, func(p string) string { return "cilium/" + p })
}

// Severity is how much a finding matters.
type Severity string

// Severities.
const (
	Deny Severity = "deny" // fails the gate
	Warn Severity = "warn" // reported; fails only with --fail-on warn
)

// Rule describes one lint rule (a package of deny/warn/violation rules).
type Rule struct {
	ID        string   `json:"id"`
	Title     string   `json:"title,omitempty"`
	Rationale string   `json:"rationale,omitempty"`
	Severity  Severity `json:"severity"`
	Package   string   `json:"package"`
	File      string   `json:"file"`
	Line      int      `json:"line"`
	Pack      string   `json:"pack"`
}

// Finding is one result.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Msg      string   `json:"msg"`
	// Path is the data path in the policy ("spec.egress[0].toEntities").
	Path string `json:"path,omitempty"`
	// The policy and where it was read.
	Policy string `json:"policy"`
	Kind   string `json:"kind"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Doc    int    `json:"document"`
	Item   int    `json:"item,omitempty"`
	// Excepted is the reason of the exception that covers the finding.
	Excepted string `json:"excepted,omitempty"`
	// Details are the other fields of a structured result.
	Details map[string]any `json:"details,omitempty"`
}

// Exception excuses a rule's findings on matching policies.
type Exception struct {
	Rule     string   `json:"rule"`
	Policies []string `json:"policies"` // "namespace/name" globs ("name" for clusterwide)
	Reason   string   `json:"reason"`
	Pack     string   `json:"-"`
}

// AnnotationPrefix: the annotation lint.ppc.policypilot.io/<rule id> with a
// reason as value excepts the policy from that rule.
const AnnotationPrefix = "lint.ppc.policypilot.io/"

// Verification rule ids: the layers of ppc verify.
const (
	RuleVerifySchema = "verify-schema"
	RuleVerifyAgent  = "verify-agent"
	RuleVerifyOrg    = "verify-org"
)

// Rule ids of documents that could not be read: not YAML, not an object,
// or a template that must be rendered first.
const (
	RuleUnreadable = "unreadable"
	RuleTemplate   = "template"
)

// ReadFindings turns the documents manifest.Read could not read into deny
// findings on their files: one bad document fails the gate, and every
// other document of the set is still verified, linted and reported.
func ReadFindings(ds ir.Diagnostics) []Finding {
	var out []Finding
	for _, d := range ds {
		if d.Severity != ir.Error {
			continue
		}
		f := Finding{Rule: RuleUnreadable, Severity: Deny, Msg: d.Msg, Policy: d.Object, File: d.Pos.File, Line: d.Pos.Line}
		if d.Code == manifest.CodeTemplate {
			f.Rule = RuleTemplate
		}
		if n, ok := strings.CutPrefix(d.Object, "document "); ok {
			f.Doc, _ = strconv.Atoi(n)
		}
		out = append(out, f)
	}
	return out
}

// Options configure a linter.
type Options struct {
	// Packs are organisation lint packs, added to the default pack.
	Packs []*rules.Pack
	// NoDefault leaves the embedded default pack out.
	NoDefault bool
	// Verifier runs the verification layers first; nil skips them.
	Verifier *verify.Verifier
	// Namespace is where a CiliumNetworkPolicy without one is checked.
	Namespace string
	// Select, when set, decides which policies select which workloads
	// (with flows: compiler.LintView), given every policy of the set with
	// its verification; without it, or for a policy it finds selecting no
	// workload, the view comes from the selectors (see MethodSelectors).
	Select func([]verify.Result) (*View, error)
	// Timeout and Memory bound the evaluation of one policy (0: the
	// rules package's defaults).
	Timeout time.Duration
	Memory  uint64
}

// Linter is a compiled set of lint packs.
type Linter struct {
	opts       Options
	pq         rego.PreparedEvalQuery
	args       []func(*rego.Rego) // what a rule's query is prepared with: pq's options and compiled packs
	mu         sync.Mutex
	byRule     map[string]rego.PreparedEvalQuery // per rule package, prepared on first use
	rules      []Rule
	byPkg      map[string]*Rule
	exceptions []Exception
}

const query = "data.ppc.lint"

// Modules returns the lint modules of the default pack (unless noDefault)
// and packs, with or without their tests.
func Modules(packs []*rules.Pack, noDefault, withTests bool) ([]rules.Module, error) {
	var all []*rules.Pack
	if !noDefault {
		def, err := DefaultPack()
		if err != nil {
			return nil, fmt.Errorf("embedded lint pack: %w", err)
		}
		all = append(all, def)
	}
	all = append(all, packs...)
	var mods []rules.Module
	for _, p := range all {
		for _, m := range p.Modules {
			if m.Test && !withTests {
				continue
			}
			mods = append(mods, m)
		}
	}
	return mods, nil
}

// Config merges the packs' settings (default first).
func Config(packs []*rules.Pack, noDefault bool) (map[string]any, error) {
	cfg := map[string]any{}
	if !noDefault {
		def, err := DefaultPack()
		if err != nil {
			return nil, err
		}
		rules.MergeConfig(cfg, def.Config)
	}
	for _, p := range packs {
		rules.MergeConfig(cfg, p.Config)
	}
	return cfg, nil
}

// New compiles the packs. Zero lint rules is an error.
func New(ctx context.Context, opts Options) (*Linter, error) {
	mods, err := Modules(opts.Packs, opts.NoDefault, false)
	if err != nil {
		return nil, err
	}
	cfg, err := Config(opts.Packs, opts.NoDefault)
	if err != nil {
		return nil, err
	}
	l := &Linter{opts: opts, byPkg: map[string]*Rule{}}
	if l.opts.Timeout <= 0 {
		l.opts.Timeout = rules.DefaultTimeout
	}
	packOf := map[string]string{}
	var all []*rules.Pack
	if !opts.NoDefault {
		def, _ := DefaultPack()
		all = append(all, def)
	}
	all = append(all, opts.Packs...)
	for _, p := range all {
		for _, m := range p.Modules {
			packOf[m.Path] = p.Name
		}
		ex, err := exceptionsOf(p)
		if err != nil {
			return nil, err
		}
		l.exceptions = append(l.exceptions, ex...)
	}
	store := inmem.NewFromObjectWithOpts(map[string]any{"ppc": map[string]any{"config": cfg}}, inmem.OptRoundTripOnWrite(true))
	args := append(RegoOptions(), rego.Store(store))
	var compiler *ast.Compiler
	whole := append([]func(*rego.Rego){rego.Query(query), rego.CompilerHook(func(c *ast.Compiler) { compiler = c })}, args...)
	for _, m := range mods {
		whole = append(whole, rego.ParsedModule(m.Module))
	}
	pq, err := rego.New(whole...).PrepareForEval(ctx)
	if err != nil {
		return nil, rules.CompileError(err)
	}
	// A rule's own query is prepared against the packs as compiled for
	// the whole (compiling every module again for each rule cost ~30 ms).
	l.args, l.byRule = append(args, rego.Compiler(compiler)), map[string]rego.PreparedEvalQuery{}
	l.pq = pq
	l.rules = Describe(mods, packOf)
	for i := range l.rules {
		l.byPkg[l.rules[i].Package] = &l.rules[i]
	}
	if len(l.rules) == 0 {
		return nil, fmt.Errorf("no lint rules loaded: a lint pack defines deny, warn or violation rules in a package under ppc.lint")
	}
	return l, nil
}

// Rules lists the loaded rules by id.
func (l *Linter) Rules() []Rule { return l.rules }

// RegoOptions are the compile options every lint evaluation uses: Rego v1,
// the restricted capabilities, the cilium.identity_label builtin and ppc's
// own (rules.Builtins).
func RegoOptions() []func(*rego.Rego) {
	opts := []func(*rego.Rego){
		rego.Capabilities(Capabilities()),
		rego.StrictBuiltinErrors(true),
		rego.SetRegoVersion(ast.RegoV1),
	}
	for _, b := range Builtins() {
		opts = append(opts, b.Register)
	}
	return opts
}

// Capabilities are rules.Capabilities with lint's builtin
// cilium.identity_label added: what a lint pack may call.
func Capabilities() *ast.Capabilities {
	caps := rules.Capabilities()
	caps.Builtins = append(caps.Builtins, identityLabelDecl, nodeLabelDecl)
	return caps
}

// Builtins are the Go builtins a lint evaluation registers: ppc's own
// (rules.Builtins) and cilium.identity_label.
func Builtins() []rules.Builtin {
	return append(rules.Builtins(), rules.Builtin{
		Decl:     identityLabelDecl,
		Register: rego.Function1(&rego.Function{Name: identityLabelDecl.Name, Decl: identityLabelDecl.Decl, Memoize: true}, labelBuiltin(identityLabelDecl.Name, agent.IdentityLabel)),
	}, rules.Builtin{
		Decl:     nodeLabelDecl,
		Register: rego.Function1(&rego.Function{Name: nodeLabelDecl.Name, Decl: nodeLabelDecl.Decl, Memoize: true}, labelBuiltin(nodeLabelDecl.Name, agent.NodeLabel)),
	})
}

var identityLabelDecl = &ast.Builtin{
	Name:        "cilium.identity_label",
	Description: "Reports whether Cilium's default label filter keeps a pod label key (with or without a source prefix such as k8s:) in security identities.",
	Decl:        types.NewFunction(types.Args(types.S), types.B),
}

var nodeLabelDecl = &ast.Builtin{
	Name:        "cilium.node_label",
	Description: "Reports whether Cilium's default node-label filter keeps a node label key, which node selectors (nodeSelector, fromNodes, toNodes) are matched against.",
	Decl:        types.NewFunction(types.Args(types.S), types.B),
}

// labelBuiltin is a builtin that asks one of Cilium's label filters
// about a key.
func labelBuiltin(name string, keep func(string) bool) func(rego.BuiltinContext, *ast.Term) (*ast.Term, error) {
	return func(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
		key, ok := a.Value.(ast.String)
		if !ok {
			return nil, fmt.Errorf("%s: want a string", name)
		}
		return ast.BooleanTerm(keep(string(key))), nil
	}
}

// Describe lists the lint rules of mods: one per package that defines
// deny, warn or violation, with the package's (or first rule's) METADATA:
// custom.id, title, description as the rationale, custom.severity.
func Describe(mods []rules.Module, packOf map[string]string) []Rule {
	var parsed []*ast.Module
	for _, m := range mods {
		parsed = append(parsed, m.Module)
	}
	as, _ := ast.BuildAnnotationSet(parsed)
	anns := map[string]*ast.Annotations{}
	if as != nil {
		for _, a := range as.Flatten() {
			p := strings.TrimPrefix(a.Path.String(), "data.")
			switch a.Annotations.Scope {
			case "package", "subpackages":
				anns[p] = a.Annotations
			case "rule", "document":
				pkg := p[:strings.LastIndexByte(p, '.')]
				if anns[pkg] == nil {
					anns[pkg] = a.Annotations
				}
			}
		}
	}
	byPkg := map[string]*Rule{}
	for _, m := range mods {
		pkg := m.Package()
		if !strings.HasPrefix(pkg, "ppc.lint.") {
			continue
		}
		for _, r := range m.Module.Rules {
			name := r.Head.Name.String()
			if name == "" && len(r.Head.Reference) > 0 {
				name = strings.Trim(r.Head.Reference[0].String(), `"`)
			}
			if name != "deny" && name != "warn" && name != "violation" {
				continue
			}
			x := byPkg[pkg]
			if x == nil {
				x = &Rule{ID: strings.TrimPrefix(pkg, "ppc.lint."), Package: pkg, File: m.Path, Line: r.Location.Row, Pack: packOf[m.Path], Severity: Warn}
				byPkg[pkg] = x
			}
			if name != "warn" {
				x.Severity = Deny
			}
		}
	}
	var out []Rule
	for pkg, x := range byPkg {
		if a := anns[pkg]; a != nil {
			if id, ok := a.Custom["id"].(string); ok && id != "" {
				x.ID = id
			}
			x.Title = a.Title
			x.Rationale = strings.TrimSpace(a.Description)
			if s, ok := a.Custom["severity"].(string); ok && (s == "deny" || s == "warn") {
				x.Severity = Severity(s)
			}
		}
		out = append(out, *x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func exceptionsOf(p *rules.Pack) ([]Exception, error) {
	lc, _ := p.Config["lint"].(map[string]any)
	raw, ok := lc["exceptions"]
	if !ok || raw == nil {
		return nil, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var ex []Exception
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ex); err != nil {
		return nil, fmt.Errorf("lint pack %s: lint.exceptions: %w", p.Name, err)
	}
	for i := range ex {
		ex[i].Pack = p.Name
		if ex[i].Rule == "" || strings.TrimSpace(ex[i].Reason) == "" || len(ex[i].Policies) == 0 {
			return nil, fmt.Errorf("lint pack %s: lint.exceptions[%d]: rule, policies and reason are required", p.Name, i)
		}
		for _, g := range ex[i].Policies {
			if _, err := path.Match(g, ""); err != nil {
				return nil, fmt.Errorf("lint pack %s: lint.exceptions[%d]: bad glob %q: %w", p.Name, i, g, err)
			}
		}
	}
	return ex, nil
}

// Report is the result of a lint run.
type Report struct {
	Policies int            `json:"policies"`
	Files    int            `json:"files"`
	Rules    []Rule         `json:"rules"`
	Findings []Finding      `json:"findings"`
	Skipped  map[string]int `json:"skippedKinds"`
	// Views counts the policies by how their pods' other policies were
	// found (MethodFlows, MethodSelectors).
	Views map[string]int `json:"views"`
}

// Count counts the findings of a severity that are not excepted.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s && f.Excepted == "" {
			n++
		}
	}
	return n
}

// Lint verifies and lints every policy object of objs.
func (l *Linter) Lint(ctx context.Context, objs []manifest.Object) (*Report, error) {
	rep := &Report{Rules: l.rules, Skipped: map[string]int{}}
	var results []verify.Result
	if l.opts.Verifier != nil {
		vr := l.opts.Verifier.Manifests(ctx, objs, l.opts.Namespace)
		results, rep.Skipped = vr.Results, vr.Skipped
	} else {
		for _, o := range objs {
			if o.Kind != "CiliumNetworkPolicy" && o.Kind != "CiliumClusterwideNetworkPolicy" && o.Kind != verify.NetworkPolicyKind {
				rep.Skipped[o.Kind]++
				continue
			}
			if (o.Kind == "CiliumNetworkPolicy" || o.Kind == verify.NetworkPolicyKind) && o.Namespace == "" {
				if err := o.SetNamespace(l.opts.Namespace); err != nil {
					return nil, err
				}
			}
			results = append(results, verify.Result{Object: o})
		}
	}
	rep.Policies = len(results)
	var view *View
	if l.opts.Select != nil {
		var err error
		if view, err = l.opts.Select(results); err != nil {
			return nil, err
		}
	}
	rep.Views = map[string]int{}
	set := newPolicySet()
	decoded := make([]map[string]any, len(results))
	for i, r := range results {
		obj, err := decodeObject(r.Object.JSON)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Object.Where(), err)
		}
		decoded[i] = obj
		// A policy the API server or the agent rejects is not enforced:
		// it takes no part in what other policies' pods get.
		set.add(policyName(r.Object), r.Object.Kind, r.Object.Namespace, obj, l.opts.Verifier == nil || r.Valid())
	}
	for i, r := range results {
		input := make(map[string]any, len(decoded[i])+1)
		for k, v := range decoded[i] {
			input[k] = v
		}
		ppc := set.input(set.byName[policyName(r.Object)], view)
		rep.Views[ppc["method"].(string)]++
		input["ppc"] = ppc
		fs, err := l.lintOne(ctx, r, input)
		if err != nil {
			return nil, err
		}
		rep.Findings = append(rep.Findings, fs...)
	}
	return rep, nil
}

// evalRule evaluates one rule's package alone (its query is prepared on
// first use).
func (l *Linter) evalRule(ctx context.Context, rule Rule, input any) (map[string]any, error) {
	l.mu.Lock()
	pq, ok := l.byRule[rule.Package]
	if !ok {
		var err error
		pq, err = rego.New(append(append([]func(*rego.Rego){}, l.args...), rego.Query("data."+rule.Package))...).PrepareForEval(ctx)
		if err != nil {
			l.mu.Unlock()
			return nil, err
		}
		l.byRule[rule.Package] = pq
	}
	l.mu.Unlock()
	return l.evalObject(ctx, pq, input)
}

// evalObject evaluates a query whose value is an object (a package),
// within the linter's bounds.
func (l *Linter) evalObject(ctx context.Context, pq rego.PreparedEvalQuery, input any) (map[string]any, error) {
	var rs rego.ResultSet
	err := rules.Bounds{Timeout: l.opts.Timeout, Memory: l.opts.Memory}.Run(ctx, func(ctx context.Context, tr topdown.QueryTracer) error {
		opts := []rego.EvalOption{rego.EvalInput(input)}
		if tr != nil {
			opts = append(opts, rego.EvalQueryTracer(tr))
		}
		var err error
		rs, err = pq.Eval(ctx, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if len(rs) > 0 && len(rs[0].Expressions) > 0 {
		v, _ = rs[0].Expressions[0].Value.(map[string]any)
	}
	return v, nil
}

// stopped reports whether err ends the whole lint run (an interruption,
// or a bound: the rules are too slow or too big for any policy) rather
// than one rule's failure on one policy.
func stopped(ctx context.Context, err error) bool {
	var be *rules.BoundError
	return ctx.Err() != nil || errors.As(err, &be)
}

func (l *Linter) lintOne(ctx context.Context, r verify.Result, input map[string]any) ([]Finding, error) {
	o := r.Object
	base := Finding{Policy: policyName(o), Kind: o.Kind, File: o.Pos.File, Line: o.Pos.Line, Doc: o.Doc, Item: o.Item}
	var out []Finding
	for _, d := range r.Diagnostics {
		if d.Severity != ir.Error {
			continue
		}
		f := base
		f.Severity = Deny
		f.Rule = "verify-" + string(verify.LayerOf(d))
		if verify.LayerOf(d) == "" {
			f.Rule = "verify-" + strings.TrimPrefix(d.Code, "ppc_")
		}
		f.Msg = d.Msg
		if f.Rule == RuleVerifyAgent {
			f.Msg += " (kubectl apply succeeds, but the Cilium agent rejects the policy and does not enforce it)"
		}
		f.Path = ir.JoinPath(d.Path)
		out = append(out, f)
	}
	tree, err := l.evalObject(ctx, l.pq, input)
	pkgOf := func(rule Rule) map[string]any {
		node := any(tree)
		for _, seg := range strings.Split(strings.TrimPrefix(rule.Package, "ppc.lint."), ".") {
			m, _ := node.(map[string]any)
			node = m[seg]
		}
		pkg, _ := node.(map[string]any)
		return pkg
	}
	if err != nil {
		if stopped(ctx, err) {
			return nil, fmt.Errorf("lint %s (%s): %w", base.Policy, o.Where(), err)
		}
		// A rule failed on this policy (a builtin's error on a value it
		// did not expect): judge the policy rule by rule, so that the
		// failing rule is a finding on it and the others still count.
		pkgs := map[string]map[string]any{}
		for _, rule := range l.rules {
			v, rerr := l.evalRule(ctx, rule, input)
			if rerr != nil {
				if stopped(ctx, rerr) {
					return nil, fmt.Errorf("lint %s (%s): %w", base.Policy, o.Where(), rerr)
				}
				f := base
				f.Rule, f.Severity = rule.ID, Deny
				f.Msg = fmt.Sprintf("lint rule %s failed on this policy, which it therefore did not check: %v", rule.ID, rerr)
				out = append(out, f)
				continue
			}
			pkgs[rule.Package] = v
		}
		pkgOf = func(rule Rule) map[string]any { return pkgs[rule.Package] }
	}
	for _, rule := range l.rules {
		pkg := pkgOf(rule)
		for _, kind := range []string{"deny", "violation", "warn"} {
			set, _ := pkg[kind].([]any)
			for _, v := range set {
				f := base
				f.Rule, f.Severity = rule.ID, Deny
				if kind == "warn" {
					f.Severity = Warn
				}
				fillResult(&f, v)
				out = append(out, f)
			}
		}
	}
	annotations := map[string]string{}
	if md, ok := input["metadata"].(map[string]any); ok {
		if an, ok := md["annotations"].(map[string]any); ok {
			for k, v := range an {
				if s, ok := v.(string); ok {
					annotations[k] = s
				}
			}
		}
	}
	for i := range out {
		out[i].Excepted = l.exception(out[i], annotations)
		out[i].Line = o.Line(out[i].Path)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Msg < out[j].Msg
	})
	return out, nil
}

// fillResult reads a rule's result: a message, or an object with msg,
// optionally id, path (an array of keys and indexes, or a string) and
// more fields (kept as details).
func fillResult(f *Finding, v any) {
	switch x := v.(type) {
	case string:
		f.Msg = x
		return
	case map[string]any:
		for k, val := range x {
			switch k {
			case "msg":
				f.Msg, _ = val.(string)
			case "id":
				if s, ok := val.(string); ok && s != "" {
					f.Rule = s
				}
			case "path":
				f.Path = pathString(val)
			default:
				if f.Details == nil {
					f.Details = map[string]any{}
				}
				f.Details[k] = val
			}
		}
		if f.Msg == "" {
			b, _ := json.Marshal(x)
			f.Msg = string(b)
		}
		return
	}
	b, _ := json.Marshal(v)
	f.Msg = string(b)
}

func pathString(v any) string {
	switch p := v.(type) {
	case string:
		return p
	case []any:
		var b strings.Builder
		for _, seg := range p {
			switch s := seg.(type) {
			case json.Number:
				b.WriteString("[" + s.String() + "]")
			case float64:
				b.WriteString("[" + strconv.Itoa(int(s)) + "]")
			default:
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				fmt.Fprint(&b, s)
			}
		}
		return b.String()
	}
	return ""
}

func (l *Linter) exception(f Finding, annotations map[string]string) string {
	if r, ok := annotations[AnnotationPrefix+f.Rule]; ok && strings.TrimSpace(r) != "" {
		return "annotation " + AnnotationPrefix + f.Rule + ": " + r
	}
	for _, e := range l.exceptions {
		if e.Rule != f.Rule {
			continue
		}
		for _, g := range e.Policies {
			if ok, _ := path.Match(g, f.Policy); ok {
				return "pack " + e.Pack + ": " + e.Reason
			}
		}
	}
	return ""
}

func policyName(o manifest.Object) string {
	if o.Namespace != "" {
		return o.Namespace + "/" + o.Name
	}
	return o.Name
}
