package compiler

import (
	"context"
	"errors"
	"time"

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
