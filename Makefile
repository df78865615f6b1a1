# ppc — the PolicyPilot policy compiler. `make help` lists the targets.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/policypilot/ppc/cmd/ppc/cli.Version=$(VERSION)
BIN       := bin/ppc
FUZZTIME  ?= 20s
BENCHTIME ?= 1x

.PHONY: help build test demo lint fuzz bench bench-scale golden clean vendor-mermaid image

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

build: ## build bin/ppc
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ppc

test: ## vet, staticcheck and every test (the CI gate)
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) test -count=1 ./...

IMAGE ?= ghcr.io/policypilot/ppc:$(VERSION)

image: ## static linux binaries (bin/ppc-linux-amd64, -arm64) and the nonroot image IMAGE as an OCI archive (bin/ppc-image.oci.tar); no Docker needed
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ppc-linux-amd64 ./cmd/ppc
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ppc-linux-arm64 ./cmd/ppc
	SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || echo 0)} \
	  $(GO) run ./internal/tools/ociimage -tag $(IMAGE) -o bin/ppc-image.oci.tar amd64=bin/ppc-linux-amd64 arm64=bin/ppc-linux-arm64
	@echo "load it: podman load -i bin/ppc-image.oci.tar | docker load -i bin/ppc-image.oci.tar (Docker 25+)"
	@echo "push it: skopeo copy --all oci-archive:bin/ppc-image.oci.tar docker://$(IMAGE)"

demo: build ## compile the bundled real Hubble samples into policies/ (demo-out/)
	rm -rf demo-out
	./$(BIN) compile testdata/flows/hubble-otel-basic-sample-400-tcp-flows.json testdata/flows/hubble-otel-basic-sample-400-udp-flows.json testdata/flows/hubble-otel-basic-sample-400-l7-redirected-flows.json -o demo-out --report demo-out/report.html
	@echo "policies written to demo-out/ (open demo-out/report.html to review them):"; find demo-out -name "*.yaml" | sort

lint: ## gofmt, vet and staticcheck only
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

golden: ## rewrite golden files (PPC_UPDATE=1)
	PPC_UPDATE=1 $(GO) test -count=1 ./...

fuzz: ## run every fuzz target for FUZZTIME each
	$(GO) test ./compiler/flows -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME)
	$(GO) test ./compiler/flows -run '^$$' -fuzz '^FuzzFastDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./compiler/flows -run '^$$' -fuzz '^FuzzFileLines$$' -fuzztime $(FUZZTIME)
	$(GO) test ./compiler/verify -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME)
	$(GO) test ./compiler/verify -run '^$$' -fuzz '^FuzzCRDMemo$$' -fuzztime $(FUZZTIME)
	$(GO) test ./schemas -run '^$$' -fuzz '^FuzzMemoSameViolations$$' -fuzztime $(FUZZTIME)
	$(GO) test ./compiler/manifest -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzSettings$$' -fuzztime $(FUZZTIME)
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzLoadPack$$' -fuzztime $(FUZZTIME)
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzCoveringPrefix$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/textsafe -run '^$$' -fuzz '^FuzzLine$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ir -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime $(FUZZTIME)
	$(GO) test ./reports -run '^$$' -fuzz '^FuzzFastYAML$$' -fuzztime $(FUZZTIME)

BENCHSTAT = $(GO) tool benchstat

bench: ## the performance benchmarks of docs/performance.md, into bench.txt (compare runs with benchstat)
	$(GO) test -run '^$$' -bench 'BenchmarkIngest' -benchtime 3x -count 6 -cpu 2 ./compiler | tee bench.txt
	GOMAXPROCS=1 $(GO) test -run '^$$' -bench 'BenchmarkIngest/ppc-learn$$' -benchtime 3x -count 6 -cpu 1 ./compiler | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'BenchmarkLearn|BenchmarkCompile' -benchtime 1x -timeout 30m ./compiler | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'BenchmarkDecide' -benchtime 1x -timeout 30m ./rules | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'BenchmarkVerify' -benchtime 200x -count 5 -cpu 1 ./compiler/verify | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'BenchmarkCheck' -cpu 1 -count 5 ./compiler/replay | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'BenchmarkColdStart|BenchmarkReplayCold' -benchtime 1x -timeout 30m ./compiler/replay | tee -a bench.txt
	$(BENCHSTAT) bench.txt

bench-scale: build ## whole compiles at scale, each beside protojson decoding of the same file (what hubble observe --input-file does): stage times, wall time, peak RSS and the ratio to protojson's time (needs /usr/bin/time)
	$(GO) build -o bin/flowgen ./internal/flowgen/cmd/flowgen
	$(GO) build -o bin/hubbledecode ./internal/benchtool/cmd/hubbledecode
	set -e; for spec in "300000 500" "1000000 5000"; do \
	  set -- $$spec; f=/tmp/ppc-bench-$$1-$$2.json; \
	  ./bin/flowgen -flows $$1 -workloads $$2 -namespaces $$(( $$2 / 10 )) -seed 1 > $$f; \
	  echo "== $$1 flows, $$2 workloads ($$(du -h $$f | cut -f1))"; \
	  internal/benchtool/beside.sh $$f "ppc compile" ./$(BIN) compile -q --timings $$f -o /tmp/ppc-bench-out; \
	  rm -f $$f; \
	done
	set -e; f=/tmp/ppc-bench-verbose.json; \
	./bin/flowgen -flows 300000 -workloads 500 -namespaces 50 -seed 1 -verbose > $$f; \
	echo "== 300000 flows the size real agents send, 500 workloads ($$(du -h $$f | cut -f1))"; \
	internal/benchtool/beside.sh $$f "ppc learn" ./$(BIN) learn -q $$f -o /tmp/ppc-bench-ir.json; \
	internal/benchtool/beside.sh $$f "ppc compile" ./$(BIN) compile -q --timings $$f -o /tmp/ppc-bench-out; \
	rm -f $$f /tmp/ppc-bench-ir.json
	set -e; f=/tmp/ppc-bench-dense.json; \
	./bin/flowgen -flows 300000 -workloads 500 -namespaces 50 -seed 1 -verbose -peers 500 > $$f; \
	echo "== dense: 300000 flows the size real agents send, 500 workloads calling up to 500 peers each ($$(du -h $$f | cut -f1))"; \
	internal/benchtool/beside.sh $$f "ppc compile" ./$(BIN) compile -q --timings $$f -o /tmp/ppc-bench-out; \
	rm -f $$f

clean: ## remove build output
	rm -rf bin demo-out

MERMAID_VERSION ?= 12.3.0

vendor-mermaid: ## refresh third_party/mermaid from the npm registry (MERMAID_VERSION=12.3.0)
	@command -v npm >/dev/null || { echo "vendor-mermaid needs npm"; exit 1; }
	set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	( cd $$tmp && npm pack --silent mermaid@$(MERMAID_VERSION) >/dev/null && tar xzf mermaid-$(MERMAID_VERSION).tgz ); \
	integrity=$$(npm view mermaid@$(MERMAID_VERSION) dist.integrity); \
	test "$$(node -p "require('$$tmp/package/package.json').version")" = "$(MERMAID_VERSION)"; \
	gzip -9 -n -c $$tmp/package/dist/mermaid.min.js > third_party/mermaid/mermaid.min.js.gz; \
	cp $$tmp/package/LICENSE third_party/mermaid/LICENSE; \
	{ echo "version $(MERMAID_VERSION)"; \
	  echo "npm-integrity $$integrity"; \
	  echo "sha256 $$(sha256sum $$tmp/package/dist/mermaid.min.js | cut -d' ' -f1) dist/mermaid.min.js"; } > third_party/mermaid/VERSION
	@cat third_party/mermaid/VERSION
