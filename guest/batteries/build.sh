#!/usr/bin/env bash
# guest/batteries/build.sh VIVARIUM GUEST.wasm LINK
#
# Builds the batteries tree (pure-Python packages from Debian, byte-compiled
# by the guest itself) and points LINK at it. The tree is cached under
# $VIVARIUM_CACHE_DIR (default ~/.cache/vivarium) as batteries-<key>, where
# the key is the sha256 of every input: the package list, this script, the
# guest-side preparation script, vivarium_utils.py and the guest module (the
# .pyc files are the guest's own). A cache hit costs nothing; a miss takes a
# few minutes, most of it compileall running inside the sandbox.
#
# Layout of the tree (read by src/sandbox/batteries.c, documented in
# docs/batteries.md):
#   site/            the packages; mounted read-only at the guest's purelib
#   zoneinfo/        tzdata's zone files; mounted read-only at /usr/share/zoneinfo
#   MANIFEST         guest paths and the importable modules, one a line
#   THIRD_PARTY.md   every package's version, licence and copyright file
#   COMPLETE         written last: a tree without it is never used
set -euo pipefail

if (($# != 3)); then
  echo "usage: guest/batteries/build.sh VIVARIUM GUEST.wasm LINK" >&2
  exit 2
fi
vivarium=$1 wasm=$2 link=$3
here=$(cd "$(dirname "$0")" && pwd)
list="$here/packages.txt"
cache=${VIVARIUM_CACHE_DIR:-${HOME:-/root}/.cache/vivarium}
die() { echo "batteries: $*" >&2; exit 1; }

for tool in apt-get dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || die "needs $tool (Debian)"
done
[[ -x $vivarium ]] || die "no vivarium executable at $vivarium"
[[ -f $wasm ]] || die "no guest module at $wasm"

key=$( { cat "$list" "$here/build.sh" "$here/prepare.py" "$here/vivarium_utils.py"
         sha256sum < "$wasm"; echo "batteries-format 2"; } | sha256sum | cut -c1-64)
tree="$cache/batteries-$key"

publish_link() {
  mkdir -p "$(dirname "$link")"
  ln -sfn "$tree" "$link.tmp.$$"
  mv -T "$link.tmp.$$" "$link"
}

if [[ -f $tree/COMPLETE ]]; then
  publish_link
  echo "$tree (cached)"
  exit 0
fi

# --- 1. fetch and check the .debs ---------------------------------------------
debs="$cache/downloads/debs"
mkdir -p "$debs" "$cache/tmp"
work=$(mktemp -d "$cache/tmp/batteries.XXXXXX")
trap 'rm -rf "$work"' EXIT

fetch() { (cd "$work" && apt-get download -q "$1" >/dev/null 2>"$work/apt.err"); }
apt_updated=
pkgs=()
while read -r pkg ver arch sha drop lic; do
  [[ -z ${pkg:-} || $pkg == \#* ]] && continue
  [[ -n $lic && ${#sha} -eq 64 ]] || die "packages.txt: malformed line for $pkg"
  file="$debs/${pkg}_${ver//:/%3a}_${arch}.deb"
  if [[ ! -f $file ]] || [[ $(sha256sum < "$file" | cut -c1-64) != "$sha" ]]; then
    rm -f "$file"
    # apt-get download writes into the current directory; as root it warns
    # that the _apt user cannot write there, which is harmless. A machine
    # that never ran apt-get update has no package lists yet: update once.
    if ! fetch "$pkg=$ver"; then
      if [[ $(id -u) -eq 0 && -z $apt_updated ]]; then
        apt_updated=1
        apt-get update -qq >/dev/null 2>&1 || true
      fi
      fetch "$pkg=$ver" ||
        die "apt-get download $pkg=$ver failed (is it still in bookworm?): $(tail -1 "$work/apt.err")"
    fi
    got=$(sha256sum < "$work/$(basename "$file")" | cut -c1-64) ||
      die "apt-get download $pkg=$ver produced no $(basename "$file")"
    [[ $got == "$sha" ]] || die "$pkg $ver: sha256 $got, expected $sha; refusing it"
    mv "$work/$(basename "$file")" "$file"
  fi
  pkgs+=("$pkg|$ver|$file|$drop|$lic")
done < "$list"
((${#pkgs[@]})) || die "packages.txt lists no package"

# --- 2. unpack (never install) and take the pure-Python parts -----------------
out="$work/tree"
mkdir -p "$out/site" "$out/zoneinfo" "$out/licences"
: > "$out/packages.lock"
for entry in "${pkgs[@]}"; do
  IFS='|' read -r pkg ver file drop lic <<< "$entry"
  x="$work/x/$pkg"
  mkdir -p "$x"
  dpkg-deb -x "$file" "$x"
  dist="$x/usr/lib/python3/dist-packages"
  if [[ -d $dist ]]; then
    # C extensions have pure-Python fallbacks in the packages taken
    # (markupsafe._native, yaml without libyaml): prepare.py proves it.
    find "$dist" -name '*.so' -delete
    find "$dist" -depth -type d -name tests -exec rm -rf {} +
    find "$dist" -depth -type d -name __pycache__ -exec rm -rf {} +
    if [[ $drop != - ]]; then
      IFS=',' read -ra gone <<< "$drop"
      for g in "${gone[@]}"; do
        [[ -e $dist/$g ]] || die "$pkg: DROP names $g, which the package does not have"
        rm -rf "${dist:?}/$g"
      done
    fi
    for entry_path in "$dist"/*; do
      name=$(basename "$entry_path")
      [[ -e $out/site/$name ]] && die "$pkg: $name is also in another package"
      cp -a "$entry_path" "$out/site/$name"
      printf '%s\t%s\t%s\n' "$name" "$pkg" "$ver" >> "$out/packages.lock.files"
    done
  fi
  if [[ -d $x/usr/share/zoneinfo ]]; then
    # Regular files only: right/ and posix/ are links and copies of the
    # same zones, and localtime points at the host's /etc.
    (cd "$x/usr/share/zoneinfo" &&
       find . -path ./right -prune -o -path ./posix -prune -o -type f -print0 |
         xargs -0 cp --parents -t "$out/zoneinfo")
  fi
  cp "$x/usr/share/doc/$pkg/copyright" "$out/licences/$pkg.copyright" ||
    die "$pkg has no usr/share/doc/$pkg/copyright"
  printf '%s\t%s\t%s\n' "$pkg" "$ver" "$lic" >> "$out/packages.lock"
done
install -m 0644 "$here/vivarium_utils.py" "$out/site/vivarium_utils.py"
printf 'vivarium_utils.py\tvivarium\t-\n' >> "$out/packages.lock.files"

# --- 3. inside the guest: byte-compile, licences, manifest, self-check ---------
# The tree is the run's workspace (/app, read-write); the budget is generous
# because compileall of ~2,000 modules runs on the interpreter being built for.
mkdir -p "$work/program"
cp "$here/prepare.py" "$work/program/prepare.py"
set +e
"$vivarium" run --wasm "$wasm" --workspace "$out" --fuel 4000000000000 --memory 1G --timeout 3000 \
  --stdout-max 16M --stderr-max 16M "$work/program/prepare.py" > "$work/prepare.out" 2>&1
rc=$?
set -e
if ((rc != 0)); then
  tail -40 "$work/prepare.out" >&2
  die "preparing the tree inside the guest failed (exit $rc)"
fi
tail -3 "$work/prepare.out" >&2
rm -f "$out/packages.lock.files"
chmod -R a+rX,go-w "$out"
date -u +%Y-%m-%dT%H:%M:%SZ > "$out/COMPLETE"

# --- 4. publish atomically; a concurrent build that won keeps its tree -------
if ! mv -T "$out" "$tree" 2>/dev/null; then
  [[ -f $tree/COMPLETE ]] || die "cannot publish $tree"
fi
publish_link
echo "$tree"
