# The ppc image on Google's distroless/static, for those who build with
# Docker: `make image` builds the same image (binary at /ppc, CA bundle,
# nonroot 65532) without any container engine, as bin/ppc-image.oci.tar.
# Build the binary first: CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -o bin/ppc-linux-amd64 ./cmd/ppc
FROM gcr.io/distroless/static-debian12:nonroot
ARG TARGETARCH=amd64
COPY bin/ppc-linux-${TARGETARCH} /ppc
USER 65532:65532
ENTRYPOINT ["/ppc"]
