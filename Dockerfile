# syntax=docker/dockerfile:1
# Airlock's container image: the `airlock` binary alone on a distroless base
# (glibc, CA certificates, no shell), run as a non-root user.
#
#   docker build -t airlock .
#   docker run -p 8080:8080 -e AIRLOCK_MASTER_KEY=... airlock
#
# The API listens on 8080 and the admin listener (/metrics, /healthz,
# /readyz, /admin/v1) on 9090. On an address other than loopback, Airlock
# refuses to start without a client key (AIRLOCK_MASTER_KEY), so give it one.
# /data holds the embedded state: mount a volume there, or use PostgreSQL
# (AIRLOCK_DATABASE_URL) and an object store for media, as deploy/compose and
# deploy/kubernetes do.

# Debian 12 like the runtime image, so the binary links against the same glibc.
FROM rust:1.95-bookworm AS builder
WORKDIR /src
# What the build reads (.dockerignore lets nothing else in): the workspace's
# manifests, the crates (with the SQL migrations and Lua scripts compiled into
# the binary), and bench/realtime-load, a workspace member whose manifest
# cargo reads even when building another package.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY bench/realtime-load bench/realtime-load
# The registry and target caches outlive the build, so a rebuild compiles only
# what changed; the binary is copied out of the cached target directory.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p airlock \
 && cp target/release/airlock /airlock \
 && mkdir /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /airlock /airlock
# The image has no mkdir: an empty data directory owned by the user Airlock
# runs as, which a new named volume mounted there inherits.
COPY --from=builder --chown=65532:65532 /data /data
# Numeric, so Kubernetes' runAsNonRoot can check it.
USER 65532:65532
ENV AIRLOCK_LISTEN=0.0.0.0:8080 \
    AIRLOCK_ADMIN_LISTEN=0.0.0.0:9090 \
    AIRLOCK_DATA_DIR=/data
EXPOSE 8080 9090
# No shell or curl here: the binary checks its own admin listener (exit 0 on a
# 2xx answer). The start period covers the database migrations of a first start.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["/airlock", "health", "--url", "http://127.0.0.1:9090/healthz"]
ENTRYPOINT ["/airlock"]
CMD ["serve"]
