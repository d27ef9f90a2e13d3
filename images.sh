#!/usr/bin/env bash
# Builds the three AuroraChat container images from the one multi-stage Dockerfile:
#   aurorachat-users, aurorachat-chat, aurorachat-ingestion
#
# Usage: ./images.sh [--push] [--dry-run] [TAG]
#   TAG        image tag; default: `git describe --tags --always --dirty` (or "dev" outside git)
#   --push     push every image after building it (log in to the registry first)
#   --dry-run  print the docker commands instead of running them (no Docker needed)
#   REGISTRY   optional prefix, e.g. REGISTRY=ghcr.io/acme ./images.sh --push v1.2.0
#              gives ghcr.io/acme/aurorachat-chat:v1.2.0
#
# The names here are the ones docker-compose.yml and k8s/base/ reference (test/deploy checks that).
# aurorachat-ingestion also runs the assistant (k8s/base/45-assistant.yaml: another command).
set -euo pipefail

SERVICES=(users chat ingestion)

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
}

push=false
dry_run=false
tag=""
for arg in "$@"; do
  case "$arg" in
    --push) push=true ;;
    --dry-run) dry_run=true ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      echo "images.sh: unknown option '$arg'" >&2
      usage >&2
      exit 2
      ;;
    *)
      if [[ -n "$tag" ]]; then
        echo "images.sh: more than one tag given ('$tag', '$arg')" >&2
        exit 2
      fi
      tag="$arg"
      ;;
  esac
done

cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ -z "$tag" ]]; then
  tag="$(git describe --tags --always --dirty 2>/dev/null || echo dev)"
fi
# Docker tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
if [[ ! "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  echo "images.sh: '$tag' is not a valid image tag" >&2
  exit 2
fi

prefix=""
if [[ -n "${REGISTRY:-}" ]]; then
  prefix="${REGISTRY%/}/"
fi

run() {
  if [[ "$dry_run" == true ]]; then
    printf '%q ' "$@"
    printf '\n'
  else
    "$@"
  fi
}

if [[ "$dry_run" != true ]] && ! command -v docker >/dev/null 2>&1; then
  echo "images.sh: docker is not installed (use --dry-run to see the commands)" >&2
  exit 1
fi

revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
built=()
for service in "${SERVICES[@]}"; do
  image="${prefix}aurorachat-${service}:${tag}"
  run docker build \
    --target "$service" \
    --tag "$image" \
    --label "org.opencontainers.image.title=aurorachat-${service}" \
    --label "org.opencontainers.image.version=${tag}" \
    --label "org.opencontainers.image.revision=${revision}" \
    .
  built+=("$image")
done

if [[ "$push" == true ]]; then
  for image in "${built[@]}"; do
    run docker push "$image"
  done
fi

echo "images: ${built[*]}" >&2
echo "deploy: kubectl -n aurorachat set image deployment/users users=${built[0]}" \
  "&& kubectl -n aurorachat set image deployment/chat chat=${built[1]}" \
  "&& kubectl -n aurorachat set image deployment/ingestion ingestion=${built[2]}" \
  "&& kubectl -n aurorachat set image deployment/assistant assistant=${built[2]}" >&2
