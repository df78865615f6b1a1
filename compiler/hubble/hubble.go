// Package hubble reads flows live from Hubble over Cilium's observer gRPC
// API (api/v1/observer: GetFlows, ServerStatus): from Hubble Relay, which
// serves every node of a cluster, or from one agent's Hubble server. It
// follows the hubble CLI's conventions (HUBBLE_SERVER, the TLS flags,
// --since/--until/--first/--last/--follow) and hands the responses on as
// the NDJSON `hubble observe -o jsonpb` prints, so that flows from a
// server go through exactly the reader and lowering files go through: the
// policies compiled from a server and from the same capture on disk are
// byte-identical.
package hubble

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// DefaultServer is the hubble CLI's default server address.
const DefaultServer = "localhost:4245"

// TLS configures a TLS connection, as the hubble CLI's --tls flags do.
type TLS struct {
	Enabled    bool
	CAFiles    []string // trusted CAs (default: the system's)
	ClientCert string   // mutual TLS: the client's certificate and key
	ClientKey  string
	ServerName string // the name the server certificate must carry (default: the address's host)
	Insecure   bool   // skip verifying the server's certificate
}

// Options select what GetFlows asks the server for.
type Options struct {
	Server string
	TLS    TLS
	// Since and Until bound the flows' time (zero: unbounded).
	Since, Until time.Time
	// First and Last ask for the oldest or newest N flows (0: every flow
	// the server holds, or, with Follow, only new ones).
	First, Last uint64
	// Follow keeps the stream open for new flows.
	Follow bool
	// Namespaces, when given, ask only for flows with a pod in one of them
	// (ppc's --namespace, pushed down to the server).
	Namespaces []string
	// Filter narrows the flows as hubble observe's flags do, on either
	// side of a flow.
	Filter Filter
	// DialTimeout bounds reaching the server (0: 10 s).
	DialTimeout time.Duration
	// OnStatus, if set, is told what the server said of itself
	// (ServerStatus) before the flows are asked for.
	OnStatus func(Status)
}

// Status is a server's answer to ServerStatus: for Hubble Relay, the sums
// over the nodes it reached (its uptime is the longest of theirs).
type Status struct {
	At        time.Time     // when ppc asked
	Flows     uint64        // flows in the ring buffers now
	MaxFlows  uint64        // their capacity: older flows are overwritten
	SeenFlows uint64        // flows seen since the server started
	Uptime    time.Duration // since the server (Relay: the oldest node) started
	// UnavailableNodes counts the nodes Relay could not reach; Unavailable
	// names some of them.
	UnavailableNodes int
	Unavailable      []string
	Version          string
}

// Filter is the subset of hubble observe's filter flags ppc passes to
// the server. Pods, labels and ports match either end of a flow (as
// hubble's --pod, --label and --port do); verdicts and protocols the flow.
// Every value of one field is an alternative; fields narrow each other.
type Filter struct {
	Pods      []string // "namespace/pod" prefixes, or "namespace/"
	Labels    []string // label selectors, "app=web,tier in (a,b)"
	Ports     []string
	Verdicts  []string // FORWARDED, DROPPED, AUDIT, …
	Protocols []string // tcp, udp, icmpv4, http, dns, …
}

// empty reports whether f narrows nothing.
func (f Filter) empty() bool {
	return len(f.Pods)+len(f.Labels)+len(f.Ports)+len(f.Verdicts)+len(f.Protocols) == 0
}

// ParseVerdicts checks verdict names against Cilium's (case-insensitive).
func ParseVerdicts(names []string) ([]flowpb.Verdict, error) {
	var out []flowpb.Verdict
	for _, n := range names {
		v, ok := flowpb.Verdict_value[strings.ToUpper(n)]
		if !ok || v == 0 {
			return nil, fmt.Errorf("unknown verdict %q", n)
		}
		out = append(out, flowpb.Verdict(v))
	}
	return out, nil
}

// whitelist turns namespaces and the filter into FlowFilters: one for the
// source side, one for the destination side (a flow matching either is
// sent).
func (o Options) whitelist() []*flowpb.FlowFilter {
	if len(o.Namespaces) == 0 && o.Filter.empty() {
		return nil
	}
	verdicts, _ := ParseVerdicts(o.Filter.Verdicts) // checked by the caller
	src := &flowpb.FlowFilter{SourcePod: o.Filter.Pods, SourceLabel: o.Filter.Labels, SourcePort: o.Filter.Ports, Verdict: verdicts, Protocol: o.Filter.Protocols}
	dst := &flowpb.FlowFilter{DestinationPod: o.Filter.Pods, DestinationLabel: o.Filter.Labels, DestinationPort: o.Filter.Ports, Verdict: verdicts, Protocol: o.Filter.Protocols}
	if len(o.Filter.Pods) == 0 { // pods name their namespace already
		for _, ns := range o.Namespaces {
			src.SourcePod = append(src.SourcePod, ns+"/")
			dst.DestinationPod = append(dst.DestinationPod, ns+"/")
		}
	}
	return []*flowpb.FlowFilter{src, dst}
}

// Name is how an input read from opts is named in positions and sources.
func (o Options) Name() string { return "hubble://" + o.Server }

// Request is the GetFlowsRequest opts make.
func (o Options) Request() *observerpb.GetFlowsRequest {
	req := &observerpb.GetFlowsRequest{Follow: o.Follow, Whitelist: o.whitelist()}
	switch {
	case o.Last > 0:
		req.Number = o.Last
	case o.First > 0:
		req.Number, req.First = o.First, true
	case !o.Since.IsZero() || !o.Until.IsZero() || o.Follow:
		// Bounded by time, or only what comes.
	default:
		req.Number = math.MaxUint64 // every flow the server holds
	}
	if !o.Since.IsZero() {
		req.Since = timestamppb.New(o.Since)
	}
	if !o.Until.IsZero() {
		req.Until = timestamppb.New(o.Until)
	}
	return req
}

// credentials builds the connection's transport credentials.
func (t TLS) credentials() (credentials.TransportCredentials, error) {
	if !t.Enabled {
		if t.Insecure || len(t.CAFiles) > 0 || t.ClientCert != "" || t.ClientKey != "" || t.ServerName != "" {
			return nil, errors.New("TLS options given without --tls")
		}
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.Insecure} //nolint:gosec // --tls-allow-insecure, as hubble's
	if len(t.CAFiles) > 0 {
		pool := x509.NewCertPool()
		for _, f := range t.CAFiles {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("CA certificates: %w", err)
			}
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("CA certificates: %s holds no PEM certificate", f)
			}
		}
		cfg.RootCAs = pool
	}
	if (t.ClientCert == "") != (t.ClientKey == "") {
		return nil, errors.New("a client certificate and its key go together: give both or neither")
	}
	if t.ClientCert != "" {
		c, err := tls.LoadX509KeyPair(t.ClientCert, t.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return credentials.NewTLS(cfg), nil
}

// Open connects to the server, checks that it answers (ServerStatus,
// within DialTimeout) and starts GetFlows. The returned reader yields the
// responses as NDJSON, one `hubble observe -o jsonpb` line each, until the
// server ends the stream (io.EOF), it fails (the error, naming the
// server), or ctx ends. Close it to stop.
func Open(ctx context.Context, o Options) (io.ReadCloser, error) {
	if o.Server == "" {
		o.Server = DefaultServer
	}
	creds, err := o.TLS.credentials()
	if err != nil {
		return nil, fmt.Errorf("hubble %s: %w", o.Server, err)
	}
	conn, err := grpc.NewClient(o.Server, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("hubble %s: %w", o.Server, err)
	}
	client := observerpb.NewObserverClient(conn)
	timeout := o.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	asked := time.Now()
	st, err := client.ServerStatus(sctx, &observerpb.ServerStatusRequest{}, grpc.WaitForReady(true))
	cancel()
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("hubble %s: no answer from the observer API within %s: %w", o.Server, timeout, err)
	}
	if o.OnStatus != nil {
		o.OnStatus(Status{
			At: asked, Flows: st.GetNumFlows(), MaxFlows: st.GetMaxFlows(), SeenFlows: st.GetSeenFlows(),
			Uptime: time.Duration(st.GetUptimeNs()), UnavailableNodes: int(st.GetNumUnavailableNodes().GetValue()),
			Unavailable: st.GetUnavailableNodes(), Version: st.GetVersion(),
		})
	}
	sctx, stop := context.WithCancel(ctx)
	stream, err := client.GetFlows(sctx, o.Request())
	if err != nil {
		stop()
		conn.Close()
		return nil, fmt.Errorf("hubble %s: GetFlows: %w", o.Server, err)
	}
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 256<<10)
		m := protojson.MarshalOptions{UseProtoNames: true}
		var err error
		for {
			var resp *observerpb.GetFlowsResponse
			if resp, err = stream.Recv(); err != nil {
				break
			}
			var b []byte
			if b, err = m.Marshal(resp); err != nil {
				break
			}
			bw.Write(b)
			if err = bw.WriteByte('\n'); err != nil {
				break
			}
			if o.Follow { // hand each flow on as it comes
				if err = bw.Flush(); err != nil {
					break
				}
			}
		}
		if errors.Is(err, io.EOF) {
			err = bw.Flush()
		} else if ctx.Err() == nil {
			err = fmt.Errorf("hubble %s: %w", o.Server, err)
		}
		stop()
		conn.Close()
		pw.CloseWithError(err)
	}()
	return &streamReader{PipeReader: pr, stop: stop}, nil
}

type streamReader struct {
	*io.PipeReader
	stop context.CancelFunc
}

func (s *streamReader) Close() error {
	s.stop()
	return s.PipeReader.Close()
}
