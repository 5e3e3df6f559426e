#!/usr/bin/env bash
# Lints and validates what deploy/ ships, offline: the Dockerfile (hadolint), the compose
# file (the Compose Specification schema), every YAML file (yamllint) and the Kubernetes
# manifests (kubernetes-validate, strict, against the bundled schemas; the example
# overlay rendered by kubectl's kustomize as well). `make lint` runs it; every tool is a
# dev dependency (pip), so nothing here needs a Docker engine or a cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
"$BIN/hadolint" deploy/Dockerfile
"$BIN/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml
"$BIN/yamllint" -s -c deploy/yamllint.yaml deploy
base=(deploy/k8s/base/{configmap,secret,deployment,service,hpa,pdb}.yaml)
"$BIN/kubernetes-validate" --strict --quiet "${base[@]}"
# The overlay reads secrets.env, which is never committed: render it with the example.
render=$(mktemp -d)
trap 'rm -rf "$render"' EXIT
cp -r deploy/k8s "$render/"
cp deploy/k8s/overlays/example/secrets.env.example "$render/k8s/overlays/example/secrets.env"
"$BIN/kubectl" kustomize "$render/k8s/overlays/example" > "$render/rendered.yaml"
"$BIN/kubernetes-validate" --strict --quiet "$render/rendered.yaml"
echo "deploy: Dockerfile, compose, YAML and Kubernetes manifests valid"
