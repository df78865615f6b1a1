package parallel

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestForEachIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		seen := make([]int32, n)
		For(context.Background(), n, func(i int) { atomic.AddInt32(&seen[i], 1) })
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: index %d called %d times", n, i, c)
			}
		}
	}
}

func TestForStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	For(ctx, 1_000_000, func(i int) {
		if calls.Add(1) == 10 {
			cancel()
		}
	})
	if c := calls.Load(); c >= 1_000_000 || c < 10 {
		t.Fatalf("%d calls after cancelling at the 10th", c)
	}
}

func TestForRepanics(t *testing.T) {
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want boom", r)
		}
	}()
	For(context.Background(), 100, func(i int) {
		if i == 42 {
			panic("boom")
		}
	})
	t.Fatal("no panic")
}

// TestForErrReturnsTheFirstError: the first failing call's error is
// returned and cancels the rest; no error, nil; a cancelled context, its
// error.
func TestForErrReturnsTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	var calls atomic.Int64
	err := ForErr(context.Background(), 1_000_000, func(ctx context.Context, i int) error {
		if calls.Add(1) == 10 {
			return boom
		}
		return nil
	})
	if err != boom {
		t.Fatalf("err = %v, want boom", err)
	}
	if c := calls.Load(); c >= 1_000_000 {
		t.Fatalf("%d calls after the 10th failed", c)
	}
	if err := ForErr(context.Background(), 100, func(context.Context, int) error { return nil }); err != nil {
		t.Fatalf("no call failed, err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ForErr(ctx, 100, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}
