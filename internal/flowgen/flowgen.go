// Package flowgen writes realistic synthetic Hubble traffic for benchmarks
// and scale tests: `hubble observe -o jsonpb` NDJSON over a cluster of
// namespaces and workloads, with the shapes real captures have (trace events
// at several observation points, replies, DNS lookups, egress to named and
// unnamed internet peers, host health checks, volatile labels). It is
// seeded and deterministic: the same Config writes the same bytes.
package flowgen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"
)

// Config sizes the synthetic cluster.
type Config struct {
	Flows      int
	Namespaces int
	Workloads  int // in total, spread over the namespaces
	Seed       uint64
	// Verbose writes flows the size real agents send (1.5–2 KB): the
	// fields a production capture carries besides the ones ppc reads
	// (uuid, ethernet, interface, node labels, workloads, the policies
	// that allowed the flow, namespace and app labels).
	Verbose bool
	// Peers is the most in-cluster peers a workload calls (0: 4); each
	// calls 1 to Peers of them. Raise it for captures with many
	// connections per workload.
	Peers int
}

type workload struct {
	ns, app, hash string
	id            int
	ip            string
	peers         []int // indexes of workloads it calls
	port          int
	external      string
}

var externals = []string{"api.github.com", "registry.npmjs.org", "s3.amazonaws.com", "api.stripe.com", "hooks.slack.com"}

// WriteFile writes cfg.Flows flows to a new file at path.
func WriteFile(path string, cfg Config) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, cfg); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Write writes cfg.Flows flows to w.
func Write(w io.Writer, cfg Config) error {
	if cfg.Namespaces <= 0 {
		cfg.Namespaces = 50
	}
	if cfg.Workloads <= 0 {
		cfg.Workloads = 500
	}
	if cfg.Peers <= 0 {
		cfg.Peers = 4
	}
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	wls := make([]workload, cfg.Workloads)
	for i := range wls {
		wls[i] = workload{
			ns:   fmt.Sprintf("ns-%03d", i%cfg.Namespaces),
			app:  fmt.Sprintf("svc-%04d", i),
			hash: fmt.Sprintf("%08x", r.Uint32()),
			id:   1000 + i,
			ip:   fmt.Sprintf("10.%d.%d.%d", 10+i/65536, (i/256)%256, i%256),
			port: []int{80, 443, 8080, 9090, 5432, 6379}[r.IntN(6)],
		}
		if r.IntN(4) == 0 {
			wls[i].external = externals[r.IntN(len(externals))]
		}
	}
	for i := range wls {
		n := 1 + r.IntN(cfg.Peers)
		for j := 0; j < n; j++ {
			// Mostly same-namespace peers, some across namespaces.
			p := r.IntN(len(wls))
			if r.IntN(3) > 0 {
				p = (i/cfg.Namespaces*cfg.Namespaces + r.IntN(cfg.Namespaces*4)) % len(wls)
				p = p - p%cfg.Namespaces + i%cfg.Namespaces
				if p >= len(wls) {
					p = i
				}
			}
			if p != i {
				wls[i].peers = append(wls[i].peers, p)
			}
		}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	// The verbose fields draw from a source of their own, so that a verbose
	// file holds the same traffic as a plain one of the same seed.
	fw := &flowWriter{w: bw, verbose: cfg.Verbose, r: rand.New(rand.NewPCG(^cfg.Seed, cfg.Seed))}
	writeFlow, ep := fw.write, ep
	if cfg.Verbose {
		ep = verboseEP
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for k := 0; k < cfg.Flows; k++ {
		t := t0.Add(time.Duration(k) * time.Millisecond)
		src := &wls[r.IntN(len(wls))]
		sport := 30000 + r.IntN(30000)
		switch x := r.IntN(100); {
		case x < 10: // DNS lookup
			writeFlow(bw, t, "FORWARDED", src.ip, "10.96.0.10", "UDP", sport, 53, false, ep(src), dnsEP, "", "EGRESS")
		case x < 15 && src.external != "": // named internet peer
			writeFlow(bw, t, "FORWARDED", src.ip, fmt.Sprintf("52.%d.%d.%d", r.IntN(4), r.IntN(256), r.IntN(8)), "TCP", sport, 443, false, ep(src), worldEP, src.external, "EGRESS")
		case x < 17: // unnamed internet peer
			writeFlow(bw, t, "FORWARDED", src.ip, fmt.Sprintf("203.0.113.%d", r.IntN(16)), "TCP", sport, 443, false, ep(src), worldEP, "", "EGRESS")
		case x < 20: // kubelet health check
			writeFlow(bw, t, "FORWARDED", "10.0.0.1", src.ip, "TCP", sport, src.port, false, hostEP, ep(src), "", "INGRESS")
		case len(src.peers) == 0:
			writeFlow(bw, t, "FORWARDED", src.ip, "10.96.0.10", "UDP", sport, 53, false, ep(src), dnsEP, "", "EGRESS")
		default: // in-cluster call: egress and ingress trace events, then a reply
			dst := &wls[src.peers[r.IntN(len(src.peers))]]
			writeFlow(bw, t, "FORWARDED", src.ip, dst.ip, "TCP", sport, dst.port, false, ep(src), ep(dst), "", "EGRESS")
			writeFlow(bw, t, "FORWARDED", src.ip, dst.ip, "TCP", sport, dst.port, false, ep(src), ep(dst), "", "INGRESS")
			writeFlow(bw, t, "FORWARDED", dst.ip, src.ip, "TCP", dst.port, sport, true, ep(dst), ep(src), "", "INGRESS")
			k += 2
		}
	}
	return bw.Flush()
}

func ep(w *workload) string {
	return fmt.Sprintf(`{"ID":%d,"identity":%d,"namespace":"%s","labels":["k8s:app=%s","k8s:io.cilium.k8s.policy.cluster=gen","k8s:io.cilium.k8s.policy.serviceaccount=%s","k8s:io.kubernetes.pod.namespace=%s","k8s:pod-template-hash=%s"],"pod_name":"%s-%s-x7k2p"}`,
		w.id, w.id+100000, w.ns, w.app, w.app, w.ns, w.hash, w.app, w.hash)
}

// verboseEP is ep with what a production endpoint also carries.
func verboseEP(w *workload) string {
	return fmt.Sprintf(`{"ID":%d,"identity":%d,"cluster_name":"gen","namespace":"%s","labels":["k8s:app=%s","k8s:app.kubernetes.io/part-of=platform","k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=%s","k8s:io.cilium.k8s.namespace.labels.team=payments","k8s:io.cilium.k8s.policy.cluster=gen","k8s:io.cilium.k8s.policy.serviceaccount=%s","k8s:io.kubernetes.pod.namespace=%s","k8s:pod-template-hash=%s"],"pod_name":"%s-%s-x7k2p","workloads":[{"name":"%s","kind":"Deployment"}]}`,
		w.id, w.id+100000, w.ns, w.app, w.ns, w.app, w.ns, w.hash, w.app, w.hash, w.app)
}

const (
	dnsEP   = `{"identity":102,"namespace":"kube-system","labels":["k8s:io.cilium.k8s.policy.cluster=gen","k8s:io.cilium.k8s.policy.serviceaccount=coredns","k8s:io.kubernetes.pod.namespace=kube-system","k8s:k8s-app=kube-dns"],"pod_name":"coredns-5d78c9869d-abcde"}`
	worldEP = `{"identity":2,"labels":["reserved:world"]}`
	hostEP  = `{"identity":1,"labels":["reserved:host"]}`
)

type flowWriter struct {
	w       *bufio.Writer
	verbose bool
	r       *rand.Rand
}

func (fw *flowWriter) write(w *bufio.Writer, t time.Time, verdict, sip, dip, proto string, sport, dport int, reply bool, src, dst, name, dir string) {
	l4 := fmt.Sprintf(`{"%s":{"source_port":%d,"destination_port":%d}}`, proto, sport, dport)
	summary := proto
	if proto == "TCP" {
		flags := `{"SYN":true}`
		if reply {
			flags = `{"SYN":true,"ACK":true}`
		}
		l4 = fmt.Sprintf(`{"TCP":{"source_port":%d,"destination_port":%d,"flags":%s}}`, sport, dport, flags)
	}
	names := ""
	if name != "" {
		names = fmt.Sprintf(`,"destination_names":["%s"]`, name)
	}
	ts := t.Format(time.RFC3339Nano)
	extra, head := "", ""
	if fw.verbose {
		r := fw.r
		head = fmt.Sprintf(`"uuid":"%08x-%04x-4%03x-8%03x-%012x",`, r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
		head += fmt.Sprintf(`"ethernet":{"source":"%s","destination":"%s"},`, mac(r), mac(r))
		point, reason := "TO_ENDPOINT", "NEW"
		if dir == "EGRESS" {
			point = "TO_STACK"
		}
		if reply {
			reason = "REPLY"
		}
		if proto == "TCP" {
			summary = map[bool]string{false: "TCP Flags: SYN", true: "TCP Flags: SYN, ACK"}[reply]
		}
		extra = fmt.Sprintf(`,"trace_observation_point":"%s","trace_reason":"%s","interface":{"index":%d,"name":"lxc%08x"},"node_labels":["kubernetes.io/arch=amd64","kubernetes.io/hostname=node-1","kubernetes.io/os=linux","topology.kubernetes.io/zone=eu-west-1a"]`,
			point, reason, 10+r.IntN(200), r.Uint32())
		if !reply {
			extra += fmt.Sprintf(`,"policy_match_type":1,"%s_allowed_by":[{"name":"allow-observed","namespace":"default","labels":["k8s:io.cilium.k8s.policy.derived-from=CiliumNetworkPolicy","k8s:io.cilium.k8s.policy.name=allow-observed","k8s:io.cilium.k8s.policy.namespace=default"],"revision":"%d"}]`,
				map[string]string{"EGRESS": "egress", "INGRESS": "ingress"}[dir], 1+r.IntN(40))
		}
	}
	fmt.Fprintf(w, `{"flow":{%s"time":"%s","verdict":"%s","IP":{"source":"%s","destination":"%s","ipVersion":"IPv4"},"l4":%s,"source":%s,"destination":%s,"Type":"L3_L4","node_name":"gen/node-1","event_type":{"type":4},"traffic_direction":"%s","is_reply":%t%s%s,"Summary":"%s"},"node_name":"gen/node-1","time":"%s"}`+"\n",
		head, ts, verdict, sip, dip, l4, src, dst, dir, reply, names, extra, summary, ts)
}

func mac(r *rand.Rand) string {
	b := r.Uint64()
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", byte(b)&0xfe|0x02, byte(b>>8), byte(b>>16), byte(b>>24), byte(b>>32), byte(b>>40))
}
