# syntax=docker/dockerfile:1
# The failwatch worker image: the release binary on distroless, nothing else.
#
#   docker build --build-arg FAILWATCH_GIT_COMMIT="$(git rev-parse --short HEAD)" -t failwatch:dev .
#   docker run --rm -e FAILWATCH_QUEUE_URL=... -e FAILWATCH_WEBHOOK_URL=... -p 9090:9090 failwatch:dev
#
# Stages: `chef` installs cargo-chef; `planner` reduces the workspace to a dependency recipe; `builder`
# compiles the dependencies from that recipe (a layer that stays cached until Cargo.toml or Cargo.lock
# change), then the workspace itself with --locked. The runtime stage holds only the binary.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS chef
# Pinned so the dependency layer is reproducible; --locked uses cargo-chef's own lock file.
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json -p failwatch-worker --bin failwatch
COPY . .
# Shown as the `commit` label of failwatch_build_info (read by option_env! at compile time). Declared
# after the dependency layer so that a new commit does not invalidate it.
ARG FAILWATCH_GIT_COMMIT=unknown
RUN cargo build --release --locked -p failwatch-worker --bin failwatch \
    && install -D -m 0755 target/release/failwatch /out/failwatch

# Debian 12's glibc (the builder is bookworm too), libgcc and CA certificates; no shell, no package
# manager. The :nonroot variant's user is 65532, set again numerically below so that Kubernetes'
# runAsNonRoot can verify it without resolving a name.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="failwatch" \
      org.opencontainers.image.description="Alerts chat rooms when ECS tasks, ECS deployments or Step Functions executions fail" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/failwatch /usr/local/bin/failwatch
USER 65532:65532
# Admin port (admin_listen, 0.0.0.0:9090 by default): /metrics, /healthz, /readyz. Not set through
# FAILWATCH_ADMIN_LISTEN here: an environment override would silently beat a config file's value.
EXPOSE 9090
# Orchestrators probe /healthz and /readyz over HTTP; the image has no shell or curl for a HEALTHCHECK.
ENTRYPOINT ["/usr/local/bin/failwatch"]
CMD ["run"]
