# syntax=docker/dockerfile:1
# Build: a static binary, no cgo.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gslbd ./cmd/gslbd

# Run: distroless static, non-root. Port 53 needs no root: the image runs
# as uid 65532 and binds 5353 by default; map 53 -> 5353 at the runtime.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gslbd /usr/local/bin/gslbd
COPY configs/ /etc/gslbd/examples/
USER 65532:65532
EXPOSE 5353/udp 5353/tcp 8053/tcp 7946/udp 7946/tcp
ENTRYPOINT ["/usr/local/bin/gslbd"]
CMD ["-config", "/etc/gslbd/gslbd.yaml"]
