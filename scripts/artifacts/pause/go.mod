// The pause program: a tiny stand-in for registry.k8s.io/pause, built by
// scripts/artifacts.sh (CGO_ENABLED=0, static).
module k8s-ha/artifacts/pause

go 1.25.0
