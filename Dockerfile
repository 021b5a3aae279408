# syntax=docker/dockerfile:1
# Build stage: Swift 6 on Debian bookworm with the -dev packages the Makefile installs
# (scripts/debian/build.txt is the one list both use).
FROM swift:6.3-bookworm AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
COPY scripts/debian/build.txt scripts/debian/build.txt
RUN apt-get update \
 && grep -v '^#' scripts/debian/build.txt | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*
COPY Package.swift ./
COPY Sources Sources
# The manifest names every target's folder (benchmarks, fuzz targets, tests): they must exist to resolve it.
COPY Benchmarks/mediaworker-bench Benchmarks/mediaworker-bench
COPY Fuzz Fuzz
COPY Tests Tests
RUN swift build -c release --static-swift-stdlib --product mediaworker \
 && bin="$(swift build -c release --show-bin-path)" \
 && install -D "$bin/mediaworker" /out/mediaworker \
 && cp -R "$bin"/*.resources /out/

# Runtime stage: slim bookworm with only the shared libraries (scripts/debian/runtime.txt).
FROM debian:bookworm-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY scripts/debian/runtime.txt /tmp/runtime.txt
RUN apt-get update \
 && grep -v '^#' /tmp/runtime.txt | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime.txt \
 && useradd --system --create-home --home-dir /var/lib/mediaworker --shell /usr/sbin/nologin mediaworker \
 && useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mediaworker-helper
# mediaworker-helper: the account helpers run as if the container is started as root (MEDIAWORKER_HELPER_USER).
# Helpers run in bubblewrap's user namespaces: the container needs them (Podman's default; with Docker's default
# seccomp profile they are refused, and /readyz lists the namespaces as not offered, see docs/operations.md).
# The binary and its resource bundles (the OpenAPI document) side by side.
COPY --from=build /out/ /usr/local/bin/
USER mediaworker
WORKDIR /var/lib/mediaworker
ENV MEDIAWORKER_DATA=/var/lib/mediaworker/data
VOLUME ["/var/lib/mediaworker/data"]
EXPOSE 8080
ENTRYPOINT ["mediaworker"]
# Inside a container the service must listen beyond loopback; set MEDIAWORKER_TOKENS and MEDIAWORKER_SIGNING_KEYS.
CMD ["serve", "--host", "0.0.0.0"]
