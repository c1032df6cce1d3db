#!/bin/sh
# Regenerates the protobuf-es code under src/api/gen (or under $1 when given) from proto/.
# Reproducible: pinned buf and protoc-gen-es from node_modules, the Google API protos from google-proto-files,
# no network access. The generated tree is committed and never edited by hand.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/src/api/gen"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

mkdir -p "$work/proto"
cp -R "$root/proto/." "$work/proto/"
gp="$root/node_modules/google-proto-files"
for f in google/api/annotations.proto google/api/http.proto \
         google/api/expr/v1alpha1/checked.proto google/api/expr/v1alpha1/syntax.proto; do
  mkdir -p "$work/proto/$(dirname "$f")"
  cp "$gp/$f" "$work/proto/$f"
done
cat > "$work/buf.yaml" <<'YAML'
version: v2
modules:
  - path: proto
YAML
cat > "$work/buf.gen.yaml" <<YAML
version: v2
plugins:
  - local: $root/node_modules/.bin/protoc-gen-es
    out: gen
    opt:
      - target=ts
      - import_extension=js
YAML
(cd "$work" && "$root/node_modules/.bin/buf" generate)
rm -rf "$out"
mkdir -p "$out"
cp -R "$work/gen/." "$out/"
