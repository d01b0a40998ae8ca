#!/bin/sh
# Fetches the UCI optical handwritten digits (1,797 images of 8 x 8 pixels, 10 classes) for
# minitorch-digits. The file ships in Debian's python3-sklearn package as
# usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz; this downloads the package
# with `apt-get download` (nothing is installed) and extracts that one file.
#   get-digits.sh [DIR]   writes DIR/digits.csv.gz (default ${XDG_CACHE_HOME:-~/.cache}/minitorch)
# Exit status: 0 done (the path is printed), 1 the package did not hold a valid file,
# 3 apt-get download is not possible here (no apt-get or dpkg-deb, no package list, no network).
set -eu

member=./usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
dir="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/minitorch}"
target="$dir/digits.csv.gz"

if [ -s "$target" ] && gzip -t "$target" 2>/dev/null; then
    echo "$target"
    exit 0
fi
for tool in apt-get dpkg-deb tar gzip; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "get-digits.sh: $tool is not available: cannot fetch python3-sklearn" >&2
        exit 3
    fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# apt-get warns that it downloads "unsandboxed as root" into a folder _apt cannot write: harmless.
if ! (cd "$work" && apt-get download python3-sklearn >"$work/apt.log" 2>&1); then
    echo "get-digits.sh: apt-get download python3-sklearn failed:" >&2
    sed 's/^/    /' "$work/apt.log" >&2
    echo "(as root, 'apt-get update' first may help)" >&2
    exit 3
fi
deb="$(ls "$work"/python3-sklearn_*.deb)"
if ! dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "$member"; then
    echo "get-digits.sh: $deb holds no $member" >&2
    exit 1
fi
if ! gzip -t "$work/$member"; then
    echo "get-digits.sh: the extracted digits.csv.gz is not a valid gzip file" >&2
    exit 1
fi
mkdir -p "$dir"
# a temporary name of this process, renamed over the target: concurrent fetches cannot collide
mv "$work/$member" "$target.$$.tmp"
mv "$target.$$.tmp" "$target"
echo "$target"
