// Command ociimage builds ppc's container image without a container
// engine: an OCI image index with one image per architecture, each a
// single layer holding the static binary at /ppc, the CA bundle, and
// /etc/passwd and /etc/group with the nonroot user (65532), which the
// image runs as. That is what Google's distroless/static offers a static
// Go binary, with nothing else: no shell, no package manager. It writes
// the image as an OCI archive (a tar of an OCI image layout), which
// `podman load`, `docker load` (Docker 25 or later), `skopeo copy
// oci-archive:…` and `crane push` take.
//
// The output is reproducible: files are written in a fixed order with
// the time of SOURCE_DATE_EPOCH (0 when unset), so the same binaries give
// the same image digest.
//
//	go run ./internal/tools/ociimage -tag ghcr.io/policypilot/ppc:v1 -o bin/ppc-image.oci.tar \
//	    amd64=bin/ppc-linux-amd64 arm64=bin/ppc-linux-arm64
//
// It uses go-containerregistry (already in ppc's module graph through
// Cilium) for the image format: digests, diff IDs, media types and the
// layout are its, not re-implemented here.
package main

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// nonroot is the user and group the image runs as (distroless's nonroot).
const nonroot = 65532

// options say what to build.
type options struct {
	tag      string            // full image reference, e.g. ghcr.io/policypilot/ppc:v1
	out      string            // the OCI archive to write
	caBundle string            // PEM bundle copied to /etc/ssl/certs/ca-certificates.crt
	binaries map[string]string // architecture -> static linux binary
	created  time.Time         // the time of every file and of the image
	version  string            // org.opencontainers.image.version
}

func main() {
	var o options
	flag.StringVar(&o.tag, "tag", "ghcr.io/policypilot/ppc:dev", "the image's `reference` (recorded in the archive for load)")
	flag.StringVar(&o.out, "o", "bin/ppc-image.oci.tar", "the OCI archive to write")
	flag.StringVar(&o.caBundle, "ca", "/etc/ssl/certs/ca-certificates.crt", "the CA `bundle` to put in the image (Debian's ca-certificates)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: ociimage [-tag REF] [-o FILE] [-ca BUNDLE] ARCH=BINARY...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	o.binaries = map[string]string{}
	for _, a := range flag.Args() {
		arch, bin, ok := strings.Cut(a, "=")
		if !ok || arch == "" || bin == "" {
			fmt.Fprintf(os.Stderr, "ociimage: %q: want ARCH=BINARY (amd64=bin/ppc-linux-amd64)\n", a)
			os.Exit(2)
		}
		o.binaries[arch] = bin
	}
	var err error
	if o.created, err = sourceDate(os.Getenv("SOURCE_DATE_EPOCH")); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(2)
	}
	if _, v, ok := strings.Cut(lastPart(o.tag), ":"); ok {
		o.version = v
	}
	digest, err := build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %s (%s) for %s\n", o.out, o.tag, digest, strings.Join(sortedKeys(o.binaries), ", "))
}

// sourceDate reads SOURCE_DATE_EPOCH (reproducible-builds.org): seconds
// since 1970; empty means 1970 itself.
func sourceDate(s string) (time.Time, error) {
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

func lastPart(ref string) string {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// build writes the archive and returns the index digest.
func build(o options) (v1.Hash, error) {
	ca, err := os.ReadFile(o.caBundle)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("CA bundle: %w (on Debian: apt-get install ca-certificates, or give -ca)", err)
	}
	work, err := os.MkdirTemp(filepath.Dir(o.out), ".ociimage-")
	if err != nil {
		return v1.Hash{}, err
	}
	defer os.RemoveAll(work)

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range sortedKeys(o.binaries) {
		img, err := archImage(o, arch, ca, filepath.Join(work, arch+".tar.gz"))
		if err != nil {
			return v1.Hash{}, fmt.Errorf("%s: %w", arch, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	dir := filepath.Join(work, "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	name, tag := o.tag, o.version
	if tag == "" {
		tag = "latest"
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          name, // docker load and containerd
		"org.opencontainers.image.ref.name": tag,  // the OCI layout's own convention
	})); err != nil {
		return v1.Hash{}, err
	}
	digest, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	tmp := filepath.Join(work, "image.oci.tar")
	if err := tarDir(dir, tmp, o.created); err != nil {
		return v1.Hash{}, err
	}
	return digest, os.Rename(tmp, o.out)
}

// archImage is the image of one architecture: its layer is written
// compressed to layerPath once, then read from there.
func archImage(o options, arch string, ca []byte, layerPath string) (v1.Image, error) {
	if err := checkBinary(o.binaries[arch], arch); err != nil {
		return nil, err
	}
	if err := writeLayer(layerPath, o.binaries[arch], ca, o.created); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: o.created}
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", nonroot, nonroot),
		Entrypoint: []string{"/ppc"},
		WorkingDir: "/home/nonroot",
		Env:        []string{"PATH=/", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Labels: map[string]string{
			"org.opencontainers.image.title":   "ppc",
			"org.opencontainers.image.source":  "https://github.com/policypilot/ppc",
			"org.opencontainers.image.version": o.version,
		},
	}
	return mutate.ConfigFile(img, cf)
}

// checkBinary refuses a file that is not a static Linux ELF binary for
// arch: an image with the wrong binary fails only when the pod starts.
func checkBinary(path, arch string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var h [20]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:4]) != "\x7fELF" {
		return fmt.Errorf("%s is not an ELF binary (build it with CGO_ENABLED=0 GOOS=linux GOARCH=%s)", path, arch)
	}
	machine := map[string]uint16{"amd64": 62, "arm64": 183}[arch]
	if machine == 0 {
		return fmt.Errorf("architecture %q: want amd64 or arm64", arch)
	}
	if got := uint16(h[18]) | uint16(h[19])<<8; got != machine {
		return fmt.Errorf("%s is not a linux/%s binary (ELF machine %d)", path, arch, got)
	}
	return nil
}

// entry is one file or directory of the layer.
type entry struct {
	name     string
	mode     int64
	uid      int
	dir      bool
	data     []byte
	fromPath string
}

// writeLayer writes the gzipped tar of the image's only layer.
func writeLayer(path, binary string, ca []byte, t time.Time) error {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		fmt.Sprintf("nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonroot, nonroot)
	group := "root:x:0:\nnobody:x:65534:\n" + fmt.Sprintf("nonroot:x:%d:\n", nonroot)
	entries := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: nonroot, dir: true},
		{name: "ppc", mode: 0o755, fromPath: binary},
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		f.Close()
		return err
	}
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if err := writeEntry(tw, e, t); err != nil {
			f.Close()
			return fmt.Errorf("layer: /%s: %w", e.name, err)
		}
	}
	err = errors.Join(tw.Close(), zw.Close())
	return errors.Join(err, f.Close())
}

func writeEntry(tw *tar.Writer, e entry, t time.Time) error {
	h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: t, Format: tar.FormatPAX, Typeflag: tar.TypeReg}
	if e.dir {
		h.Typeflag = tar.TypeDir
		return tw.WriteHeader(h)
	}
	if e.fromPath == "" {
		h.Size = int64(len(e.data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(e.data)
		return err
	}
	src, err := os.Open(e.fromPath)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	h.Size = fi.Size()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.Copy(tw, src)
	return err
}

// tarDir writes dir as a tar (the OCI archive) with fixed times and
// owners, files in lexical order.
func tarDir(dir, out string, t time.Time) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Stat(p)
		if err != nil {
			f.Close()
			return err
		}
		e := entry{name: filepath.ToSlash(rel), mode: 0o644, fromPath: p}
		if fi.IsDir() {
			e = entry{name: filepath.ToSlash(rel) + "/", mode: 0o755, dir: true}
		}
		if err := writeEntry(tw, e, t); err != nil {
			f.Close()
			return err
		}
	}
	return errors.Join(tw.Close(), f.Close())
}
