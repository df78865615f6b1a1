package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// fakeELF writes a file that starts like a static binary for the ELF
// machine m (62 amd64, 183 arm64).
func fakeELF(t *testing.T, dir, name string, m byte, body string) string {
	t.Helper()
	h := make([]byte, 20)
	copy(h, "\x7fELF")
	h[18] = m
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, append(h, body...), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func testOptions(t *testing.T) options {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return options{
		tag: "ghcr.io/policypilot/ppc:v9", version: "v9", out: filepath.Join(dir, "image.oci.tar"), caBundle: ca,
		binaries: map[string]string{
			"amd64": fakeELF(t, dir, "ppc-amd64", 62, "amd64 body"),
			"arm64": fakeELF(t, dir, "ppc-arm64", 183, "arm64 body"),
		},
		created: time.Unix(1700000000, 0).UTC(),
	}
}

// eachEntry calls fn with every entry of the tar stream r and its body.
func eachEntry(t *testing.T, r io.Reader, fn func(*tar.Header, []byte)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fn(h, b)
	}
}

func TestBuild(t *testing.T) {
	o := testOptions(t)
	digest, err := build(o)
	if err != nil {
		t.Fatal(err)
	}

	// The archive is an OCI layout: unpack it and read it back with
	// go-containerregistry, whose validate recomputes every digest, diff
	// ID, size, media type and platform.
	dir := t.TempDir()
	f, err := os.Open(o.out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	eachEntry(t, f, func(h *tar.Header, body []byte) {
		if !h.ModTime.Equal(o.created) || h.Uid != 0 {
			t.Errorf("%s: time %s uid %d, want %s and 0", h.Name, h.ModTime, h.Uid, o.created)
		}
		p := filepath.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			return
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].Digest != digest {
		t.Fatalf("index.json = %+v, want one index %s", tm.Manifests, digest)
	}
	if a := tm.Manifests[0].Annotations; a["io.containerd.image.name"] != o.tag || a["org.opencontainers.image.ref.name"] != "v9" {
		t.Errorf("annotations %v: want the name for docker/containerd load and the tag for the OCI layout", a)
	}
	idx, err := top.ImageIndex(digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatalf("go-containerregistry rejects the image: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("%d images, want amd64 and arm64", len(im.Manifests))
	}
	for _, d := range im.Manifests {
		arch := d.Platform.Architecture
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != arch || cf.OS != "linux" || d.Platform.OS != "linux" {
			t.Errorf("%s: config says %s/%s", arch, cf.OS, cf.Architecture)
		}
		if cf.Config.User != "65532:65532" || strings.Join(cf.Config.Entrypoint, " ") != "/ppc" {
			t.Errorf("%s: runs %v as %q, want /ppc as 65532:65532 (nonroot)", arch, cf.Config.Entrypoint, cf.Config.User)
		}
		if cf.Config.Labels["org.opencontainers.image.version"] != "v9" {
			t.Errorf("%s: labels %v", arch, cf.Config.Labels)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("%s: %d layers (%v), want 1", arch, len(layers), err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		files := map[string]*tar.Header{}
		eachEntry(t, rc, func(h *tar.Header, b []byte) {
			files[h.Name] = h
			if h.Name == "ppc" {
				body.Write(b)
			}
			if h.Name == "etc/passwd" && !strings.Contains(string(b), "nonroot:x:65532:65532:") {
				t.Errorf("%s: /etc/passwd has no nonroot user:\n%s", arch, b)
			}
		})
		rc.Close()
		if h := files["ppc"]; h == nil || h.Mode != 0o755 || !strings.HasSuffix(body.String(), arch+" body") {
			t.Errorf("%s: /ppc is %+v (%q), want that architecture's binary, mode 0755", arch, h, body.String())
		}
		for name, mode := range map[string]int64{"tmp/": 0o1777, "home/nonroot/": 0o700, "etc/ssl/certs/ca-certificates.crt": 0o644, "etc/group": 0o644} {
			if h := files[name]; h == nil || h.Mode != mode {
				t.Errorf("%s: /%s is %+v, want mode %o", arch, name, h, mode)
			}
		}
		if h := files["home/nonroot/"]; h != nil && h.Uid != 65532 {
			t.Errorf("%s: /home/nonroot belongs to %d, want 65532", arch, h.Uid)
		}
	}

	// Reproducible: the same binaries give the same bytes.
	first, _ := os.ReadFile(o.out)
	again := o
	again.out = filepath.Join(t.TempDir(), "again.tar")
	d2, err := build(again)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(again.out)
	if d2 != digest || !bytes.Equal(first, second) {
		t.Errorf("two builds differ: %s and %s", digest, d2)
	}
}

func TestBuildRefusesWrongBinaries(t *testing.T) {
	for name, mutate := range map[string]func(*options){
		"arm64 binary as amd64": func(o *options) { o.binaries["amd64"] = o.binaries["arm64"] },
		"not ELF": func(o *options) {
			p := filepath.Join(t.TempDir(), "script")
			os.WriteFile(p, []byte("#!/bin/sh\necho hi there, not a binary\n"), 0o755)
			o.binaries["amd64"] = p
		},
		"unknown architecture": func(o *options) { o.binaries["riscv64"] = o.binaries["amd64"] },
		"missing CA bundle":    func(o *options) { o.caBundle = filepath.Join(t.TempDir(), "none") },
	} {
		t.Run(name, func(t *testing.T) {
			o := testOptions(t)
			mutate(&o)
			if _, err := build(o); err == nil {
				t.Fatal("built an image")
			}
			if _, err := os.Stat(o.out); !os.IsNotExist(err) {
				t.Errorf("a failed build left %s", o.out)
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(o.out), ".ociimage-*"))
			if len(left) > 0 {
				t.Errorf("work directories left: %v", left)
			}
		})
	}
}

func TestSourceDate(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "1700000000": 1700000000} {
		got, err := sourceDate(in)
		if err != nil || got.Unix() != want {
			t.Errorf("sourceDate(%q) = %v, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "-5"} {
		if _, err := sourceDate(bad); err == nil {
			t.Errorf("sourceDate(%q) accepted", bad)
		}
	}
}
