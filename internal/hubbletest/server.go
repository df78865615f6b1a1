// Package hubbletest serves recorded Hubble captures over Cilium's
// generated observer gRPC service, for tests of ppc's Hubble client: the
// request's filters are applied with Cilium's own filter code
// (pkg/hubble/filters), and Number/First/Since/Until/Follow as Hubble's
// ring buffer answers them. No hand-written protocol: the service is the
// one `hubble-relay` registers.
package hubbletest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	v1 "github.com/cilium/cilium/pkg/hubble/api/v1"
	"github.com/cilium/cilium/pkg/hubble/filters"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Server is an observer service over recorded responses.
type Server struct {
	observerpb.UnimplementedObserverServer
	Addr string

	mu        sync.Mutex
	responses []*observerpb.GetFlowsResponse
	more      chan struct{} // closed and replaced when responses are added
	grpc      *grpc.Server
	requests  []*observerpb.GetFlowsRequest
	delay     time.Duration
	started   time.Time
	status    func(*observerpb.ServerStatusResponse)
}

// SetStatus lets edit change the server's ServerStatus answers (a
// restarted server's uptime, an overrun buffer, unreachable nodes); nil
// restores the default.
func (s *Server) SetStatus(edit func(*observerpb.ServerStatusResponse)) {
	s.mu.Lock()
	s.status = edit
	s.mu.Unlock()
}

// SetDelay makes the server wait d before each response it sends (a slow
// stream: a busy Relay, a congested link).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// send sends r after the server's delay.
func (s *Server) send(stream grpc.ServerStreamingServer[observerpb.GetFlowsResponse], r *observerpb.GetFlowsResponse) error {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	if d > 0 {
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-time.After(d):
		}
	}
	return stream.Send(r)
}

// Requests are the GetFlows requests received so far, in order.
func (s *Server) Requests() []*observerpb.GetFlowsRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*observerpb.GetFlowsRequest(nil), s.requests...)
}

// Load reads a capture (`hubble observe -o jsonpb` NDJSON) into responses.
func Load(path string) ([]*observerpb.GetFlowsResponse, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*observerpb.GetFlowsResponse
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		r := &observerpb.GetFlowsResponse{}
		if err := protojson.Unmarshal(line, r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// LostEvents is the record Hubble sends when its ring buffer overflowed
// at t and n flows were dropped before a client read them.
func LostEvents(n uint64, t time.Time) *observerpb.GetFlowsResponse {
	return &observerpb.GetFlowsResponse{Time: timestamppb.New(t), ResponseTypes: &observerpb.GetFlowsResponse_LostEvents{
		LostEvents: &flowpb.LostEvent{Source: flowpb.LostEventSource_HUBBLE_RING_BUFFER, NumEventsLost: n},
	}}
}

// Retimed returns copies of the flow responses as if they happened from t
// on, a microsecond apart, in order (new traffic for a server that is
// followed).
func Retimed(rs []*observerpb.GetFlowsResponse, t time.Time) []*observerpb.GetFlowsResponse {
	out := make([]*observerpb.GetFlowsResponse, 0, len(rs))
	for i, r := range rs {
		c := proto.Clone(r).(*observerpb.GetFlowsResponse)
		if f := c.GetFlow(); f != nil {
			f.Time = timestamppb.New(t.Add(time.Duration(i) * time.Microsecond))
		}
		out = append(out, c)
	}
	return out
}

// Start serves responses on 127.0.0.1 (creds nil: plain text) until ctx
// ends.
func Start(ctx context.Context, responses []*observerpb.GetFlowsResponse, creds credentials.TransportCredentials) (*Server, error) {
	return StartAt(ctx, "127.0.0.1:0", responses, creds)
}

// StartAt is Start on addr (a restarted server at the address of one that
// was stopped).
func StartAt(ctx context.Context, addr string, responses []*observerpb.GetFlowsResponse, creds credentials.TransportCredentials) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	var opts []grpc.ServerOption
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	s := &Server{Addr: l.Addr().String(), responses: responses, started: time.Now(), more: make(chan struct{}), grpc: grpc.NewServer(opts...)}
	observerpb.RegisterObserverServer(s.grpc, s)
	go s.grpc.Serve(l)
	go func() {
		<-ctx.Done()
		s.grpc.Stop()
	}()
	return s, nil
}

// Stop ends the server and every stream at once (a server restart).
func (s *Server) Stop() { s.grpc.Stop() }

// Add appends responses, as new flows arriving (followers get them).
func (s *Server) Add(rs ...*observerpb.GetFlowsResponse) {
	s.mu.Lock()
	s.responses = append(s.responses, rs...)
	close(s.more)
	s.more = make(chan struct{})
	s.mu.Unlock()
}

// Unavailable is a SetStatus edit: Relay could not reach these nodes.
func Unavailable(nodes ...string) func(*observerpb.ServerStatusResponse) {
	return func(r *observerpb.ServerStatusResponse) {
		r.NumUnavailableNodes, r.UnavailableNodes = wrapperspb.UInt32(uint32(len(nodes))), nodes
	}
}

// ServerStatus reports the buffer (every response it holds, a buffer
// that never overwrote any) and the time since the server started, then
// applies SetStatus's edit.
func (s *Server) ServerStatus(context.Context, *observerpb.ServerStatusRequest) (*observerpb.ServerStatusResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := uint64(len(s.responses))
	r := &observerpb.ServerStatusResponse{NumFlows: n, MaxFlows: max(n, 4096), SeenFlows: n, UptimeNs: uint64(time.Since(s.started))}
	if s.status != nil {
		s.status(r)
	}
	return r, nil
}

// GetFlows answers as Hubble's ring buffer does: the filtered flows,
// bounded by time, the first or last Number of them, then new ones while
// following.
func (s *Server) GetFlows(req *observerpb.GetFlowsRequest, stream grpc.ServerStreamingServer[observerpb.GetFlowsResponse]) error {
	ctx := stream.Context()
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	log := slog.New(slog.DiscardHandler)
	white, err := filters.BuildFilterList(ctx, req.Whitelist, filters.DefaultFilters(log))
	if err != nil {
		return err
	}
	black, err := filters.BuildFilterList(ctx, req.Blacklist, filters.DefaultFilters(log))
	if err != nil {
		return err
	}
	match := func(r *observerpb.GetFlowsResponse) bool {
		t := r.GetTime()
		if f := r.GetFlow(); f != nil {
			t = f.GetTime()
		}
		if t != nil && (req.Since != nil && t.AsTime().Before(req.Since.AsTime()) || req.Until != nil && t.AsTime().After(req.Until.AsTime())) {
			return false
		}
		if f := r.GetFlow(); f != nil {
			return filters.Apply(white, black, &v1.Event{Timestamp: f.GetTime(), Event: f})
		}
		return len(req.Whitelist) == 0 // other events only unfiltered
	}
	s.mu.Lock()
	var sel []*observerpb.GetFlowsResponse
	for _, r := range s.responses {
		if match(r) {
			sel = append(sel, r)
		}
	}
	seen := len(s.responses)
	more := s.more
	s.mu.Unlock()
	if n := req.Number; n > 0 && n < uint64(len(sel)) {
		if req.First {
			sel = sel[:n]
		} else {
			sel = sel[uint64(len(sel))-n:]
		}
	} else if n == 0 && req.Follow && req.Since == nil {
		sel = nil // following from now on
	}
	for _, r := range sel {
		if err := s.send(stream, r); err != nil {
			return err
		}
	}
	for req.Follow {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-more:
		}
		s.mu.Lock()
		fresh := s.responses[seen:]
		seen = len(s.responses)
		more = s.more
		s.mu.Unlock()
		for _, r := range fresh {
			if match(r) {
				if err := s.send(stream, r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
