package compiler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/policypilot/ppc/compiler/hubble"
	"github.com/policypilot/ppc/ir"
)

// FollowOptions control Follow.
type FollowOptions struct {
	// Learn are the options of each round; Learn.Hubble is required. Its
	// Since starts the first round (zero: every flow the server holds);
	// Until, First, Last and Follow are Follow's to set.
	Learn LearnOptions
	// Every is the time between rounds (a snapshot after each).
	Every time.Duration
	// Lag keeps each round this far behind now: Hubble Relay merges the
	// nodes' streams, and a flow can reach it a little after flows that
	// happened later (default 5 s).
	Lag time.Duration
	// Retry is told of a round that failed (the server went away, …) and
	// how long Follow waits before it asks again for the same window.
	Retry func(err error, wait time.Duration)
	// Gap is told of each stretch of time whose flows the server could
	// not give (see Gap).
	Gap func(Gap)
}

// A Gap is a stretch of time in which flows happened that Follow did not
// get, as the server's own status shows it: asking again would not help.
type Gap struct {
	From, To time.Time
	// Kind is "nodes" (Relay could not reach some nodes: their flows of
	// the window are missing), "restart" (the server, or a node behind
	// Relay, restarted and lost its buffer) or "overrun" (the server saw
	// more flows between two rounds than its buffer holds: the oldest
	// were overwritten before Follow asked for them).
	Kind string
	// Lost is the number of flows known lost (overrun), 0 when unknown.
	Lost uint64
	// Msg says what happened and what to do about it.
	Msg string
}

// gaps compares the server's status at the start of a round (cur) with
// that of the previous successful round (prev, nil for the first) for the
// round's window [since, until].
func gaps(prev *hubble.Status, cur hubble.Status, since, until time.Time) []Gap {
	var out []Gap
	if cur.UnavailableNodes > 0 {
		names := ""
		if len(cur.Unavailable) > 0 {
			names = " (" + strings.Join(cur.Unavailable, ", ") + ")"
		}
		out = append(out, Gap{From: since, To: until, Kind: "nodes",
			Msg: fmt.Sprintf("%d nodes did not answer Hubble Relay%s: their flows of this window are missing", cur.UnavailableNodes, names)})
	}
	started := cur.At.Add(-cur.Uptime)
	switch {
	case cur.Uptime > 0 && !since.IsZero() && started.After(since):
		out = append(out, Gap{From: since, To: started, Kind: "restart",
			Msg: fmt.Sprintf("the server started at %s, after this window began: flows from before were lost with its buffer", started.UTC().Format(time.RFC3339))})
	case prev != nil && cur.SeenFlows < prev.SeenFlows:
		out = append(out, Gap{From: since, To: cur.At, Kind: "restart",
			Msg: fmt.Sprintf("the server's count of flows seen went down (%d to %d): a node behind it restarted, and the flows it had not yet handed on are lost", prev.SeenFlows, cur.SeenFlows)})
	case prev != nil && cur.MaxFlows > 0 && cur.SeenFlows-prev.SeenFlows > cur.MaxFlows:
		seen := cur.SeenFlows - prev.SeenFlows
		out = append(out, Gap{From: since, To: until, Kind: "overrun", Lost: seen - cur.MaxFlows,
			Msg: fmt.Sprintf("the server saw %d flows since the previous round but holds %d: about %d were overwritten before ppc asked for them (shorten --snapshot-every, or raise Hubble's buffer: hubble-event-buffer-capacity)", seen, cur.MaxFlows, seen-cur.MaxFlows)})
	}
	return out
}

// Follow learns continuously from a Hubble server, in rounds: each round
// asks for the flows of the window since the previous one ended (up to
// now minus Lag), merges them into what was learned so far, and hands
// snapshot the normalised graph. A failed round (the server restarted,
// the connection dropped) is retried with backoff (1 s doubling to 30 s)
// for the same window, so nothing the server still holds is lost; what it
// no longer holds is counted by the server's lost-events records. When
// ctx ends, Follow hands snapshot what it learned and returns nil. Memory
// follows distinct edges, not time.
//
// A connection whose records fall in two rounds is lowered in two parts
// (each record carries its own direction evidence; a reply with none is
// counted, as in a file cut in two).
func Follow(ctx context.Context, o FollowOptions, snapshot func(*ir.Graph) error) error {
	if o.Learn.Hubble == nil {
		return errors.New("follow: no Hubble server")
	}
	if o.Every <= 0 {
		o.Every = time.Minute
	}
	if o.Lag <= 0 {
		o.Lag = 5 * time.Second
	}
	acc := ir.New()
	since := o.Learn.Hubble.Since
	var prev *hubble.Status
	const maxBackoff = 30 * time.Second
	backoff := time.Second
	write := func(ctx context.Context) error {
		g := ir.New()
		if err := g.Merge(acc); err != nil {
			return err
		}
		res, err := Compile(ctx, nil, Options{Graph: g, StopAfter: StageNormalize})
		if err != nil {
			return err
		}
		return snapshot(res.Graph)
	}
	for {
		until := time.Now().Add(-o.Lag)
		h := *o.Learn.Hubble
		h.Since, h.Until, h.First, h.Last, h.Follow = since, until, 0, 0, false
		var status *hubble.Status
		h.OnStatus = func(s hubble.Status) { status = &s }
		lo := o.Learn
		lo.Hubble = &h
		g, _, _, err := Learn(ctx, nil, lo)
		if ctx.Err() != nil {
			break
		}
		wait := o.Every
		if err != nil {
			wait = backoff
			backoff = min(2*backoff, maxBackoff)
			if o.Retry != nil {
				o.Retry(err, wait)
			}
		} else {
			backoff = time.Second
			if err := acc.Merge(g); err != nil {
				return err
			}
			if status != nil {
				for _, gap := range gaps(prev, *status, since, until) {
					if o.Gap != nil {
						o.Gap(gap)
					}
				}
				prev = status
			}
			since = until.Add(time.Nanosecond) // Hubble's since and until are inclusive
			if err := write(ctx); err != nil {
				if ctx.Err() != nil {
					break
				}
				return err
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	return write(context.WithoutCancel(ctx))
}
