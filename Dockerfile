# Build: cgo is needed for SQLite.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/parley ./cmd/parley

# Run: a small Debian with glibc, as a non-root user, the database on a volume.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin parley \
    && mkdir -p /data && chown parley:parley /data
COPY --from=build /out/parley /usr/local/bin/parley
USER parley
WORKDIR /data
VOLUME /data
ENV PARLEY_ADDR=0.0.0.0:8080 \
    PARLEY_DB=/data/parley.db
EXPOSE 8080
ENTRYPOINT ["parley"]
CMD ["serve"]
