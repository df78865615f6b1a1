package hubble

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"

	"github.com/policypilot/ppc/internal/hubbletest"
	"github.com/policypilot/ppc/internal/testutil"
)

func capture(t *testing.T) []*observerpb.GetFlowsResponse {
	t.Helper()
	rs, err := hubbletest.Load(filepath.Join(testutil.Testdata(), "flows", "hubble-otel-basic-sample-400-tcp-flows.json"))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// lines reads every NDJSON line Open yields.
func lines(t *testing.T, ctx context.Context, o Options) ([]string, error) {
	t.Helper()
	rc, err := Open(ctx, o)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []string
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

func TestRequest(t *testing.T) {
	since := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		o      Options
		number uint64
		first  bool
	}{
		{Options{}, math.MaxUint64, false},
		{Options{Last: 5}, 5, false},
		{Options{First: 3}, 3, true},
		{Options{Since: since}, 0, false},
		{Options{Follow: true}, 0, false},
	} {
		r := tc.o.Request()
		if r.Number != tc.number || r.First != tc.first || r.Follow != tc.o.Follow || (r.Since != nil) != !tc.o.Since.IsZero() {
			t.Errorf("%+v: request %v", tc.o, r)
		}
	}
	r := Options{Namespaces: []string{"shop"}}.Request()
	if len(r.Whitelist) != 2 || r.Whitelist[0].SourcePod[0] != "shop/" || r.Whitelist[1].DestinationPod[0] != "shop/" {
		t.Errorf("namespace filters %v", r.Whitelist)
	}
	r = Options{Namespaces: []string{"shop"}, Filter: Filter{Pods: []string{"shop/api"}, Labels: []string{"app=web"}, Ports: []string{"8080"}, Verdicts: []string{"dropped"}, Protocols: []string{"tcp"}}}.Request()
	src, dst := r.Whitelist[0], r.Whitelist[1]
	if len(src.SourcePod) != 1 || src.SourcePod[0] != "shop/api" || src.SourceLabel[0] != "app=web" || src.SourcePort[0] != "8080" ||
		dst.DestinationPod[0] != "shop/api" || dst.DestinationLabel[0] != "app=web" || dst.DestinationPort[0] != "8080" ||
		src.Verdict[0] != flowpb.Verdict_DROPPED || dst.Protocol[0] != "tcp" || len(src.DestinationPod) != 0 {
		t.Errorf("filters %v", r.Whitelist)
	}
	if _, err := ParseVerdicts([]string{"FORWARDED", "bogus"}); err == nil {
		t.Error("unknown verdict accepted")
	}
}

// TestOpenServesEverything: every response of the capture comes through,
// in order, as the JSON of the response itself.
func TestOpenServesEverything(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rs := capture(t)
	srv, err := hubbletest.Start(ctx, rs, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lines(t, ctx, Options{Server: srv.Addr})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rs) {
		t.Fatalf("%d lines, want %d", len(got), len(rs))
	}
	back := &observerpb.GetFlowsResponse{}
	if err := protojson.Unmarshal([]byte(got[7]), back); err != nil || back.GetFlow().GetTime().AsTime() != rs[7].GetFlow().GetTime().AsTime() {
		t.Errorf("line 8 does not decode to response 8: %v", err)
	}
	// --last and a namespace filter, applied by the server with Cilium's
	// filters.
	got, err = lines(t, ctx, Options{Server: srv.Addr, Last: 10, Namespaces: []string{"no-such-namespace"}})
	if err != nil || len(got) != 0 {
		t.Errorf("filtered: %d lines, %v", len(got), err)
	}
	got, err = lines(t, ctx, Options{Server: srv.Addr, Last: 10})
	if err != nil || len(got) != 10 {
		t.Errorf("--last 10: %d lines, %v", len(got), err)
	}
	// hubble observe's filter flags, as Cilium's filters apply them: the
	// capture holds TCP flows, 373 forwarded and 27 redirected to the
	// proxy; some are to or from port 9080.
	for _, tc := range []struct {
		f    Filter
		want func(n int) bool
	}{
		{Filter{Verdicts: []string{"DROPPED"}}, func(n int) bool { return n == 0 }},
		{Filter{Verdicts: []string{"forwarded"}}, func(n int) bool { return n == 373 }},
		{Filter{Verdicts: []string{"FORWARDED", "REDIRECTED"}}, func(n int) bool { return n == len(rs) }},
		{Filter{Protocols: []string{"udp"}}, func(n int) bool { return n == 0 }},
		{Filter{Ports: []string{"9080"}}, func(n int) bool { return n > 0 && n < len(rs) }},
		{Filter{Labels: []string{"app=reviews"}}, func(n int) bool { return n > 0 && n < len(rs) }},
		{Filter{Pods: []string{"bookinfo/reviews-"}}, func(n int) bool { return n > 0 && n < len(rs) }},
	} {
		got, err := lines(t, ctx, Options{Server: srv.Addr, Filter: tc.f})
		if err != nil || !tc.want(len(got)) {
			t.Errorf("%+v: %d of %d lines, %v", tc.f, len(got), len(rs), err)
		}
	}
}

// TestOpenFailures: no server, a server that stops mid-stream, and one that
// never sends (the caller's context ends the read).
func TestOpenFailures(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	if _, err := Open(ctx, Options{Server: dead, DialTimeout: 300 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "hubble "+dead+": no answer") {
		t.Errorf("no server: %v", err)
	}

	srv, err := hubbletest.Start(ctx, capture(t)[:3], nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := Open(ctx, Options{Server: srv.Addr, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop() // the server goes away while the client follows
	_, err = io.ReadAll(rc)
	if err == nil || !strings.Contains(err.Error(), "hubble "+srv.Addr) {
		t.Errorf("server stopped: %v", err)
	}

	quiet, err := hubbletest.Start(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	qctx, qcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer qcancel()
	rc, err = Open(qctx, Options{Server: quiet.Addr, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); err == nil {
		t.Error("a server that never sends: the read did not end with the context")
	}
}

// TestOpenSlowStream: a server that sends slowly is read to its end,
// every response, with no timeout cutting the stream.
func TestOpenSlowStream(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := hubbletest.Start(ctx, capture(t)[:20], nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetDelay(25 * time.Millisecond) // 0.5 s for the stream
	got, err := lines(t, ctx, Options{Server: srv.Addr, DialTimeout: 100 * time.Millisecond})
	if err != nil || len(got) != 20 {
		t.Errorf("slow stream: %d of 20 lines, %v", len(got), err)
	}
}

// TestOpenTLS: a server with a certificate from a test CA is reached with
// --tls --tls-ca-cert-files; without the CA it is refused, and TLS options
// without --tls are an error.
func TestOpenTLS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	caFile, serverCert := testCA(t, dir)
	srv, err := hubbletest.Start(ctx, capture(t)[:5], credentials.NewServerTLSFromCert(&serverCert))
	if err != nil {
		t.Fatal(err)
	}
	got, err := lines(t, ctx, Options{Server: srv.Addr, TLS: TLS{Enabled: true, CAFiles: []string{caFile}, ServerName: "relay.test"}})
	if err != nil || len(got) != 5 {
		t.Errorf("TLS with the CA: %d lines, %v", len(got), err)
	}
	if _, err := Open(ctx, Options{Server: srv.Addr, TLS: TLS{Enabled: true, ServerName: "relay.test"}, DialTimeout: time.Second}); err == nil {
		t.Error("a server certificate from an unknown CA was accepted")
	}
	if _, err := Open(ctx, Options{Server: srv.Addr, TLS: TLS{CAFiles: []string{caFile}}}); err == nil || !strings.Contains(err.Error(), "without --tls") {
		t.Errorf("TLS options without --tls: %v", err)
	}
}

// testCA writes a CA certificate to dir and returns its file and a server
// certificate for relay.test signed by it.
func testCA(t *testing.T, dir string) (string, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ppc test CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "relay.test"}, DNSNames: []string{"relay.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
}
