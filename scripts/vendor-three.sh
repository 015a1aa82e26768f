#!/usr/bin/env bash
# Rebuild tracecad/web/static/vendor/three/: the three.js files the web app's 3D viewer loads (the
# library, OrbitControls, STLLoader, 3MFLoader and what they import), from the `three` package of the
# npm registry at the version pinned below. Needs npm; running or testing tracecad never does.
set -euo pipefail
cd "$(dirname "$0")/.."

THREE_VERSION="0.187.0"
dest="tracecad/web/static/vendor/three"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "three@$THREE_VERSION" >/dev/null && tar xzf "three-$THREE_VERSION.tgz")
src="$tmp/package"
rm -rf "$dest"
files=(
  LICENSE
  build/three.module.js
  build/three.core.js
  examples/jsm/controls/OrbitControls.js
  examples/jsm/loaders/STLLoader.js
  examples/jsm/loaders/3MFLoader.js
  examples/jsm/libs/fflate.module.js
  examples/jsm/utils/BufferGeometryUtils.js
)
for f in "${files[@]}"; do
  mkdir -p "$dest/$(dirname "$f")"
  cp "$src/$f" "$dest/$f"
done
# The addons import the bare name 'three'; point them at the copied build so that the page needs no import map
# (its Content-Security-Policy allows no inline script).
find "$dest/examples" -name '*.js' -exec sed -i "s#from 'three';#from '../../../build/three.module.js';#" {} +
echo "three@$THREE_VERSION (npm), files: ${files[*]}" > "$dest/VERSION"
echo "vendor-three: three@$THREE_VERSION copied into $dest"
