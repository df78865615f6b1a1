# The ppc image: the static binary `make image` builds (no Go, no Docker
# needed for that step) on distroless/static, running as nonroot.
FROM gcr.io/distroless/static-debian12:nonroot
ARG TARGETARCH=amd64
COPY bin/ppc-linux-${TARGETARCH} /ppc
USER 65532:65532
ENTRYPOINT ["/ppc"]
