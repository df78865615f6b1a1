package compiler

import (
	"context"
	"fmt"
	"time"

	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/rules"
	"github.com/policypilot/ppc/schemas"
)

// Anomaly is one finding of the anomaly stage with its evidence from the
// IR.
type Anomaly struct {
	rules.Anomaly
	Evidence Evidence `json:"evidence"`
}

// Evidence is what the IR holds behind a finding's edges.
type Evidence struct {
	// Connections counts the connections of the finding's learned edges;
	// Dropped the attempts a policy of the cluster dropped (denied
	// attempts, and DROPPED connections learned with --include-denied).
	Connections int64 `json:"connections"`
	Dropped     int64 `json:"dropped"`
	// Learned is set when a connection the cluster dropped was learned
	// (--include-denied): the policies written allow what it denied.
	Learned bool `json:"learned_denied,omitempty"`
	// FirstSeen and LastSeen bound the observations (zero when the flows
	// carried no time).
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// Samples are up to ir.MaxSamples positions of flow records behind it.
	Samples []ir.Pos `json:"samples,omitempty"`
}

// HighScore is the score from which a finding is one a reviewer must see
// before approving: outlined on the report's topology, an error in SARIF.
const HighScore = 50

// AnomalyReport is the anomaly stage's result.
type AnomalyReport struct {
	// Findings, ranked by score (highest first).
	Findings []Anomaly `json:"findings"`
	// Omitted counts the findings beyond rules.MaxAnomalies left out.
	Omitted int `json:"omitted,omitempty"`
	// Baseline is set when the graph was compared with a baseline.
	Baseline bool `json:"baseline"`
}

// AtLeast counts the findings scored min or more.
func (r *AnomalyReport) AtLeast(min float64) int {
	n := 0
	if r != nil {
		for _, f := range r.Findings {
			if f.Score >= min {
				n++
			}
		}
	}
	return n
}

// Anomalies runs the rule packs' anomaly detectors over g (normalised),
// compared with baseline when it is not nil, and attaches each finding's
// evidence.
func Anomalies(ctx context.Context, eng *rules.Engine, g, baseline *ir.Graph) (*AnomalyReport, error) {
	fs, omitted, err := eng.Anomalies(ctx, g, baseline)
	if err != nil {
		return nil, err
	}
	r := &AnomalyReport{Findings: make([]Anomaly, len(fs)), Omitted: omitted, Baseline: baseline != nil}
	for i, f := range fs {
		r.Findings[i] = Anomaly{Anomaly: f, Evidence: evidence(g, f.Edges)}
	}
	return r, nil
}

func evidence(g *ir.Graph, ids []string) Evidence {
	var ev Evidence
	add := func(e *ir.Edge, denied bool) {
		if denied {
			ev.Dropped += e.Flows()
		} else {
			ev.Connections += e.Flows()
			if n := e.Verdicts.Get("DROPPED"); n > 0 {
				ev.Dropped += n
				ev.Learned = true
			}
		}
		for _, t := range []time.Time{e.FirstSeen, e.LastSeen} {
			if t.IsZero() {
				continue
			}
			if ev.FirstSeen.IsZero() || t.Before(ev.FirstSeen) {
				ev.FirstSeen = t
			}
			if t.After(ev.LastSeen) {
				ev.LastSeen = t
			}
		}
		for _, p := range e.Samples {
			ev.Samples = ir.AddSample(ev.Samples, p)
		}
	}
	for _, id := range ids {
		if e := g.Edges[id]; e != nil {
			add(e, false)
		}
		if e := g.Denied[id]; e != nil {
			add(e, true)
		}
	}
	return ev
}

// ReadBaseline learns the snapshot (an IR written by ppc learn, or
// flows) that anomalies are compared with, normalised as a compile's
// graph is.
func ReadBaseline(ctx context.Context, path string, opts LearnOptions) (*ir.Graph, error) {
	opts.Progress = nil
	g, _, ds, err := Learn(ctx, []string{path}, opts)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	if ds.HasErrors() {
		return nil, fmt.Errorf("baseline %s: %w", path, ds)
	}
	nds, _ := ir.Normalize(g, false, nil)
	if nds.HasErrors() {
		return nil, fmt.Errorf("baseline %s: %w", path, nds)
	}
	return g, nil
}

// AnomalyOptions configure DetectAnomalies.
type AnomalyOptions struct {
	// Rules are organisation pack directories (their detectors and
	// settings), Set settings over them.
	Rules []string
	Set   []string
	// Baseline, when set, is compared with.
	Baseline *ir.Graph
	// Attempts: g was learned with every connection attempt (ppc replay,
	// explain POLICY_PATH): the connections a policy of the cluster
	// dropped are judged as denied attempts, not as learned ones.
	Attempts bool
	// RuleTimeout and RuleMemory bound the evaluation (0: defaults).
	RuleTimeout time.Duration
	RuleMemory  uint64
}

// DetectAnomalies is the anomaly stage outside a compile (ppc learn,
// ppc explain POLICY_PATH): the packs' detectors over g, normalised.
func DetectAnomalies(ctx context.Context, g *ir.Graph, o AnomalyOptions) (*AnomalyReport, error) {
	packs, err := rules.LoadDirs(o.Rules)
	if err != nil {
		return nil, err
	}
	eng, err := rules.NewEngine(ctx, rules.Options{Packs: packs, Set: o.Set, Timeout: o.RuleTimeout, MemoryLimit: o.RuleMemory, CheckSettings: schemas.CheckSettings})
	if err != nil {
		return nil, fmt.Errorf("rule packs: %w", err)
	}
	if o.Attempts {
		g = asAttempts(g)
	}
	r, err := Anomalies(ctx, eng, g, o.Baseline)
	if err != nil {
		return nil, fmt.Errorf("rule packs: %w", err)
	}
	return r, nil
}

// asAttempts returns a copy of g, learned with every attempt, in which
// the connections a policy dropped are denied attempts (as a compile's
// lowering keeps them) rather than DROPPED verdicts of learned edges.
func asAttempts(g *ir.Graph) *ir.Graph {
	h := ir.New()
	h.Stats, h.Sources, h.DNS, h.Undecided = g.Stats, g.Sources, g.DNS, g.Undecided
	for id, n := range g.Nodes {
		h.Nodes[id] = n
	}
	for id, n := range g.DeniedNodes {
		if h.DeniedNodes == nil {
			h.DeniedNodes = map[string]*ir.Node{}
		}
		h.DeniedNodes[id] = n
	}
	for id, e := range g.Denied {
		h.Denied[id] = e
	}
	for id, e := range g.Edges {
		d := e.Verdicts.Get("DROPPED")
		if d == 0 {
			h.Edges[id] = e
			continue
		}
		if e.Flows() > d {
			c := *e
			c.Verdicts = ir.Counts{}
			for _, x := range e.Verdicts {
				if x.Key != "DROPPED" {
					c.Verdicts = append(c.Verdicts, x)
				}
			}
			h.Edges[id] = &c
		}
		dc := *e
		dc.Verdicts = ir.Counts{{Key: "DROPPED", N: d}}
		dc.L7 = nil
		if old := h.Denied[id]; old != nil {
			dc.Verdicts.Add("DROPPED", old.Verdicts.Get("DROPPED"))
		}
		h.Denied[id] = &dc
	}
	h.SettleDenied()
	return h
}
