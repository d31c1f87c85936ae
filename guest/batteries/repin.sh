#!/usr/bin/env bash
# guest/batteries/repin.sh: print packages.txt with every package moved to the
# version apt-get would fetch today, and that version's sha256.
#
# Debian's mirrors keep only the current version of a package, so a security
# or point-release update (tzdata changes several times a year) makes a
# pinned version unavailable and build.sh stops with "is it still in
# bookworm?". Run this, review the diff (versions, licences), and commit:
#
#   guest/batteries/repin.sh > /tmp/p && diff guest/batteries/packages.txt /tmp/p
#
# Nothing is installed; the .debs are downloaded to a temporary directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

while IFS= read -r line; do
  if [[ -z $line || $line == \#* ]]; then
    printf '%s\n' "$line"
    continue
  fi
  read -r pkg _ _ _ drop lic <<< "$line"
  ver=$(apt-cache policy "$pkg" | sed -n 's/^  Candidate: //p')
  [[ -n $ver && $ver != "(none)" ]] || { echo "repin: no candidate for $pkg" >&2; exit 1; }
  (cd "$tmp" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1) ||
    { echo "repin: cannot download $pkg=$ver" >&2; exit 1; }
  deb=$(ls "$tmp"/"${pkg}"_*.deb)
  arch=$(dpkg-deb -f "$deb" Architecture)
  sha=$(sha256sum < "$deb" | cut -c1-64)
  printf '%-22s %-18s %-6s %s %-6s %s\n' "$pkg" "$ver" "$arch" "$sha" "$drop" "$lic"
  rm -f "$deb"
done < "$here/packages.txt"
