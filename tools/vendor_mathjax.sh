#!/usr/bin/env bash
# Vendors MathJax 3 (from the npm registry) into _vendor/mathjax so that the book's
# math renders with no network. Run from the repository root; commit the result.
set -euo pipefail
version=3.2.2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "mathjax@$version" >/dev/null && tar xzf mathjax-*.tgz)
rm -rf _vendor/mathjax
mkdir -p _vendor/mathjax/output/chtml/fonts
cp "$tmp/package/es5/tex-chtml.js" _vendor/mathjax/
cp -r "$tmp/package/es5/output/chtml/fonts/woff-v2" _vendor/mathjax/output/chtml/fonts/
cp "$tmp/package/LICENSE" _vendor/mathjax/
echo "MathJax $version (Apache-2.0), from the npm package 'mathjax'." > _vendor/mathjax/README.txt
du -sh _vendor/mathjax
