package schemas

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"encoding/json"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/token"
	cuejson "cuelang.org/go/encoding/json"

	"github.com/policypilot/ppc/ir"
)

//go:embed ppc.cue
var ppcCUE []byte

//go:embed settings.cue
var settingsCUE []byte

// OrgDefinition is the definition an organisation schema must declare.
const OrgDefinition = "#Policy"

// Violation is one schema error.
type Violation struct {
	Path []string // data path, e.g. spec, ingress, [0], toPorts
	Msg  string
	Pos  string // schema position (file:line:col), if known
}

// Schema is a compiled CUE definition that objects are validated against.
// It is safe for concurrent use: a cue.Context is not, so each goroutine
// validating at a time gets an instance of its own (built on first need,
// then reused), and validations run in parallel.
type Schema struct {
	Name string // "ppc" or the org schema directory
	// msgs maps a schema position ("file:line") to the message a
	// "// ppc:msg" comment on the line above gives it.
	msgs map[string]string
	// build makes an instance: the schema compiled in a new context.
	build func() (*instance, error)
	pool  sync.Pool // of *instance
	// memo, when set, remembers the rules and selectors found valid (see
	// knownValid); nil for schemas whose rules may depend on where they
	// are (an organisation's).
	memo *validMemo
}

// instance is the schema compiled in a context of its own.
type instance struct {
	ctx *cue.Context
	def cue.Value
	// rules, when set, are the definitions of single ingress and egress
	// rules: CUE reports only some errors of a list whose elements have
	// several, so on failure each rule is validated again on its own.
	rules map[string][]cue.Value
	// rule is the definition of one rule of each side (with memo); parts
	// caches the definitions of a policy's parts (see knownValid).
	rule  map[string]cue.Value
	parts map[string]partDef
}

// partDef is the definition of a kind of part of a policy, and the
// memo's name for it.
type partDef struct {
	def  cue.Value
	kind string
}

// part is the definition at path (field names and "*", any field,
// joined by dots; optional fields are found too).
func (in *instance) part(m *validMemo, path string) partDef {
	return in.cached(m, path, func() cue.Value {
		var sels []cue.Selector
		for _, f := range strings.Split(path, ".") {
			if f == "*" {
				sels = append(sels, cue.AnyString)
			} else {
				sels = append(sels, cue.Str(f).Optional())
			}
		}
		return in.def.LookupPath(cue.MakePath(sels...))
	})
}

// sideRule is the definition of one rule of side.
func (in *instance) sideRule(m *validMemo, side string) partDef {
	return in.cached(m, side+"[]", func() cue.Value { return in.rule[side] })
}

func (in *instance) cached(m *validMemo, key string, lookup func() cue.Value) partDef {
	if p, ok := in.parts[key]; ok {
		return p
	}
	p := partDef{def: lookup()}
	p.kind = m.kindOf(p.def)
	if in.parts == nil {
		in.parts = map[string]partDef{}
	}
	in.parts[key] = p
	return p
}

func newSchema(name string, msgs map[string]string, build func() (*instance, error)) (*Schema, error) {
	in, err := build() // errors surface here, not at the first validation
	if err != nil {
		return nil, err
	}
	s := &Schema{Name: name, msgs: msgs, build: build}
	s.pool.Put(in)
	return s, nil
}

// get takes an instance for one validation (the pool may have dropped
// idle ones: then a new one is built); put returns it.
func (s *Schema) get() (*instance, error) {
	if x, ok := s.pool.Get().(*instance); ok {
		return x, nil
	}
	return s.build()
}

func (s *Schema) put(in *instance) { s.pool.Put(in) }

func buildPPC() (*instance, error) {
	ctx := cuecontext.New()
	v := ctx.CompileBytes(ppcCUE, cue.Filename("schemas/ppc.cue"))
	if err := v.Err(); err != nil {
		return nil, err
	}
	def := v.LookupPath(cue.ParsePath("#PPC"))
	if err := def.Err(); err != nil {
		return nil, err
	}
	rules := map[string][]cue.Value{
		"ingress": {v.LookupPath(cue.ParsePath("#Ingress")), v.LookupPath(cue.ParsePath("#HasPorts"))},
		"egress":  {v.LookupPath(cue.ParsePath("#Egress")), v.LookupPath(cue.ParsePath("#HasPorts"))},
	}
	return &instance{ctx: ctx, def: def, rules: rules,
		rule: map[string]cue.Value{
			"ingress": v.LookupPath(cue.ParsePath("#PPCIngress")),
			"egress":  v.LookupPath(cue.ParsePath("#PPCEgress")),
		}}, nil
}

var ppcOnce = sync.OnceValues(func() (*Schema, error) {
	s, err := newSchema("ppc", commentMsgs("schemas/ppc.cue", ppcCUE), buildPPC)
	if s != nil {
		s.memo = &validMemo{}
	}
	return s, err
})

var settingsOnce = sync.OnceValues(func() (*Schema, error) {
	return newSchema("settings", nil, func() (*instance, error) {
		ctx := cuecontext.New()
		v := ctx.CompileBytes(settingsCUE, cue.Filename("schemas/settings.cue"))
		if err := v.Err(); err != nil {
			return nil, err
		}
		def := v.LookupPath(cue.ParsePath("#Settings"))
		return &instance{ctx: ctx, def: def}, def.Err()
	})
})

// Settings returns the schema of the default pack's settings. It panics
// if the embedded schema does not compile, which a test rules out.
func Settings() *Schema {
	s, err := settingsOnce()
	if err != nil {
		panic(fmt.Sprintf("embedded schemas/settings.cue: %s", formatErr(err)))
	}
	return s
}

// CheckSettings validates merged rule-pack settings against
// schemas/settings.cue; each violation is (path as ir.JoinPath writes
// it, message).
func CheckSettings(cfg map[string]any) (paths, msgs []string, err error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	vs, err := Settings().Validate("settings", b)
	if err != nil {
		return nil, nil, err
	}
	for _, v := range vs {
		paths = append(paths, ir.JoinPath(v.Path))
		msgs = append(msgs, v.Msg)
	}
	return paths, msgs, nil
}

// commentMsgs finds "// ppc:msg TEXT" comments: a violation at the line
// after one gets TEXT as its message (CUE's own message for a matchN
// failure prints the whole value).
func commentMsgs(file string, src []byte) map[string]string {
	m := map[string]string{}
	for i, line := range strings.Split(string(src), "\n") {
		if _, msg, ok := strings.Cut(line, "// ppc:msg "); ok {
			m[fmt.Sprintf("%s:%d", file, i+2)] = strings.TrimSpace(msg)
		}
	}
	return m
}

// PPC returns ppc's embedded schema. It panics if the embedded schema does
// not compile, which a test rules out.
func PPC() *Schema {
	s, err := ppcOnce()
	if err != nil {
		panic(fmt.Sprintf("embedded schemas/ppc.cue: %s", formatErr(err)))
	}
	return s
}

// LoadOrgs loads the organisation schemas in dirs, in order (LoadOrg).
func LoadOrgs(dirs []string) ([]*Schema, error) {
	var out []*Schema
	for _, d := range dirs {
		s, err := LoadOrg(d)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// LoadOrg loads the CUE files of dir (one package) and returns its
// #Policy definition.
func LoadOrg(dir string) (*Schema, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.cue"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("load schemas %s: no .cue files", dir)
	}
	sort.Strings(files)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var rel []string
	for _, f := range files {
		rel = append(rel, "./"+filepath.Base(f))
	}
	insts := load.Instances(rel, &load.Config{Dir: abs})
	if len(insts) != 1 {
		return nil, fmt.Errorf("load schemas %s: want one CUE package, got %d", dir, len(insts))
	}
	if err := insts[0].Err; err != nil {
		return nil, fmt.Errorf("load schemas %s: %s", dir, formatErr(err))
	}
	inst := insts[0]
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	return newSchema(dir, nil, func() (*instance, error) {
		ctx := cuecontext.New()
		v := ctx.BuildInstance(inst)
		if err := v.Err(); err != nil {
			return nil, fmt.Errorf("load schemas %s: %s", dir, formatErr(err))
		}
		def := v.LookupPath(cue.ParsePath(OrgDefinition))
		if !def.Exists() {
			return nil, fmt.Errorf("load schemas %s: no %s definition (every policy is unified with it)", dir, OrgDefinition)
		}
		return &instance{ctx: ctx, def: def}, nil
	})
}

// Validate unifies the JSON document with the schema and returns every
// violation (empty if valid).
func (s *Schema) Validate(name string, doc0 []byte) ([]Violation, error) {
	in, err := s.get()
	if err != nil {
		return nil, err
	}
	defer s.put(in)
	if s.memo != nil && s.knownValid(in, name, doc0) {
		return nil, nil
	}
	expr, err := cuejson.Extract(name, doc0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	data := in.ctx.BuildExpr(expr)
	if err := data.Err(); err != nil {
		return nil, err
	}
	err = in.def.Unify(data).Validate(cue.Concrete(true))
	if err == nil {
		return nil, nil
	}
	out := s.violations(err, nil)
	if len(in.rules) > 0 {
		var doc struct {
			Spec struct {
				Ingress []json.RawMessage `json:"ingress"`
				Egress  []json.RawMessage `json:"egress"`
			} `json:"spec"`
		}
		if json.Unmarshal(doc0, &doc) == nil {
			for side, rules := range map[string][]json.RawMessage{"ingress": doc.Spec.Ingress, "egress": doc.Spec.Egress} {
				for i, r := range rules {
					expr, err := cuejson.Extract(name, r)
					if err != nil {
						continue
					}
					rv := in.ctx.BuildExpr(expr)
					for _, def := range in.rules[side] {
						if rerr := def.Unify(rv).Validate(cue.Concrete(true)); rerr != nil {
							out = append(out, s.violations(rerr, []string{"spec", side, fmt.Sprintf("[%d]", i)})...)
						}
					}
				}
			}
		}
	}
	return dedupe(out), nil
}

func dedupe(vs []Violation) []Violation {
	seen := map[string]bool{}
	out := vs[:0]
	for _, v := range vs {
		k := strings.Join(v.Path, ".") + "\x00" + v.Msg
		if !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.Join(out[i].Path, "."), strings.Join(out[j].Path, ".")
		if a != b {
			return a < b
		}
		return out[i].Msg < out[j].Msg
	})
	return out
}

// violations converts CUE errors, prefixing their paths.
func (s *Schema) violations(err error, prefix []string) []Violation {
	var out []Violation
	seen := map[string]bool{}
	disj := map[string]*Violation{} // path -> the "empty disjunction" violation
	var alts = map[string][]string{}
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		path := append(append([]string(nil), prefix...), cleanPath(e.Path())...)
		pk := strings.Join(path, ".")
		pos := ""
		if p := e.Position(); p.IsValid() {
			pos = fmt.Sprintf("%s:%d", p.Filename(), p.Line())
		}
		if m, ok := s.msgFor(e); ok {
			// A constraint with a message of its own (a matchN's
			// alternatives' "required" errors are noise).
			if strings.Contains(msg, "required but not present") {
				continue
			}
			key := pk + "\x00" + m
			if !seen[key] {
				seen[key] = true
				out = append(out, Violation{Path: path, Msg: m, Pos: pos})
			}
			continue
		}
		if strings.Contains(msg, "errors in empty disjunction") {
			if disj[pk] == nil {
				out = append(out, Violation{Path: path, Pos: pos})
				disj[pk] = &out[len(out)-1]
			}
			continue
		}
		if strings.HasPrefix(format, "conflicting values %s and %s") && len(args) == 2 {
			alts[pk] = append(alts[pk], fmt.Sprint(args[0]))
			if disj[pk] != nil || true {
				disj[pk+"\x00value"] = &Violation{Msg: fmt.Sprint(args[1])}
			}
			continue
		}
		key := pk + "\x00" + msg
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, Violation{Path: path, Msg: msg, Pos: pos})
	}
	for i := range out {
		if out[i].Msg != "" {
			continue
		}
		pk := strings.Join(out[i].Path, ".")
		val := "value"
		if v := disj[pk+"\x00value"]; v != nil {
			val = "value " + v.Msg
		}
		a := alts[pk]
		sort.Strings(a)
		out[i].Msg = fmt.Sprintf("invalid %s: want one of %s", val, strings.Join(a, ", "))
	}
	return out
}

// msgFor is the "// ppc:msg" message of the constraint an error is
// about: at the error's position or, for a conflict CUE reports without
// one, at one of the positions it came from.
func (s *Schema) msgFor(e cueerrors.Error) (string, bool) {
	if len(s.msgs) == 0 {
		return "", false
	}
	for _, p := range append([]token.Pos{e.Position()}, e.InputPositions()...) {
		if p.IsValid() {
			if m, ok := s.msgs[fmt.Sprintf("%s:%d", p.Filename(), p.Line())]; ok {
				return m, true
			}
		}
	}
	return "", false
}

// cleanPath turns CUE's path into ppc's: list indexes become "[i]" and
// hidden helper fields ("_portsCount") name what they count.
func cleanPath(p []string) []string {
	var out []string
	for i, s := range p {
		switch {
		case s == "", i == 0 && strings.HasPrefix(s, "#"):
		case isIndex(s):
			out = append(out, "["+s+"]")
		case s == "_portsCount":
			out = append(out, "ports")
		case s == "_fieldsCount":
			out = append(out, "fields")
		case s == "_keys":
			out = append(out, "matchLabels")
		case s == "_n":
			out = append(out, "port")
		case s == "_selectorCount":
			out = append(out, "endpointSelector", "matchLabels")
		case s == "_peers" || s == "_hasPorts":
		default:
			out = append(out, s)
		}
	}
	return out
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func formatErr(err error) string {
	var b strings.Builder
	for i, e := range cueerrors.Errors(err) {
		if i > 0 {
			b.WriteString("; ")
		}
		format, args := e.Msg()
		if p := e.Position(); p.IsValid() {
			b.WriteString(p.String() + ": ")
		}
		b.WriteString(fmt.Sprintf(format, args...))
	}
	return b.String()
}
