#!/usr/bin/env bash
# guest/cpython/build.sh [--print-dir] [--cached-only]
#
# Builds our own guest: CPython 3.11 for WASI (preview 1) at -O2 from
# Debian's pinned source packages (sources.lock), with zlib, sqlite3, bz2 and
# lzma built in and the host entry API (vivarium_entry.c) linked in, plus its
# standard library as a tree byte-compiled for the guest (to be mounted
# read-only at /usr/local/lib/python3.11).
#
# Output: $CACHE/cpython-<input hash>/ holding python.wasm, lib/python3.11/,
# stdlib.sha256 (every stdlib file), SHA256SUMS (python.wasm and
# stdlib.sha256) and build-info.txt. The input hash covers this directory's
# files, the pinned versions and the toolchain's versions, so a second run
# with the same inputs only verifies the hashes and prints the directory.
# Progress goes to stderr; the full log to $CACHE/cpython-<hash>.log.
# The build tree stays in $CACHE/cpython-build-<hash of the steps up to
# configure and their inputs>, so changing vivarium_entry.c or a later step
# costs a clean compile of CPython (a few minutes), not a cold build; older
# build trees are removed. The output is reproducible: two builds of the same
# inputs give the same python.wasm and stdlib, whenever and wherever built.
#
# Needs (Debian bookworm): clang-19 lld-19 libclang-rt-19-dev-wasm32
# wasi-libc llvm-19 dpkg-dev debian-keyring tcl gcc make, and deb-src
# entries for bookworm and bookworm-security in the apt sources.
# About 35 minutes on 2 busy cores when cold. --cached-only: exit 3 instead
# of building when the output is not in the cache.
set -euo pipefail
# One brace group: bash parses it whole before running any of it, so editing
# this file during a build cannot change the build under way.
{

here=$(cd "$(dirname "$0")" && pwd)
print_dir=0
cached_only=0
for a in "$@"; do
  case "$a" in
    --print-dir) print_dir=1 ;;
    --cached-only) cached_only=1 ;;
    *) echo "usage: guest/cpython/build.sh [--print-dir] [--cached-only]" >&2; exit 2 ;;
  esac
done

cache=${VIVARIUM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vivarium}
jobs=${VIVARIUM_BUILD_JOBS:-2}
PYVER=3.11
CC_BIN=clang-19
toolchain_pkgs=(clang-19 lld-19 llvm-19 libclang-rt-19-dev-wasm32 wasi-libc)

die() { echo "cpython: $*" >&2; exit 1; }

# --- inputs and the cache key -------------------------------------------------
for p in "${toolchain_pkgs[@]}" dpkg-dev debian-keyring tcl gcc make; do
  if ! dpkg -s "$p" >/dev/null 2>&1; then
    ((cached_only)) && exit 3
    die "missing Debian package $p (apt-get install $p)"
  fi
done
command -v node >/dev/null || die "node is needed for the smoke test (apt-get install nodejs)"
toolchain_versions=$(dpkg-query -W -f '${Package} ${Version}\n' "${toolchain_pkgs[@]}")
# Only the build steps (from "# --- 1." on) count, not this preamble. The
# build tree (sources, libraries, the build Python, configure) is keyed by
# the steps up to configure; the output by all of them.
tree_hash=$(
  {
    cd "$here"
    sed -n '/^# --- 1\. /,/^stamp configure$/p' build.sh | sha256sum
    sha256sum sources.lock wasi_shim.c wasi_shim.h patches/*.patch
    echo "$toolchain_versions"
  } | sha256sum | cut -c1-16
)
input_hash=$(
  {
    echo "$tree_hash"
    cd "$here"
    sed -n '/^# --- 1\. /,$p' build.sh | sha256sum
    sha256sum vivarium_entry.c smoke.mjs
  } | sha256sum | cut -c1-16
)
out="$cache/cpython-$input_hash"

verify_out() {
  [[ -f "$1/SHA256SUMS" ]] &&
    (cd "$1" && sha256sum --quiet -c SHA256SUMS && sha256sum --quiet -c stdlib.sha256) >/dev/null 2>&1
}

if verify_out "$out"; then
  echo "cpython: cached build $out" >&2
  ((print_dir)) && echo "$out"
  exit 0
fi
((cached_only)) && exit 3

mkdir -p "$cache"
work="$cache/cpython-build-$tree_hash"
log="$cache/cpython-$input_hash.log"
for old in "$cache"/cpython-build-*; do
  [[ -d "$old" && "$old" != "$work" ]] && rm -rf "$old"
done
mkdir -p "$work"
: >"$log"
echo "cpython: building (input hash $input_hash); log: $log" >&2
if [[ -f "$work/.done-configure" ]]; then
  echo "cpython: reusing the configured build tree $work" >&2
fi
# Steps up to configure leave a stamp and are skipped when it is there.
done_step() { [[ -f "$work/.done-$1" ]]; }
stamp() { touch "$work/.done-$1"; }

nstep=0
total=10
t0=$(date +%s)
step() {
  nstep=$((nstep + 1))
  printf 'cpython [%d/%d] %s (%ds)\n' "$nstep" "$total" "$*" $(($(date +%s) - t0)) >&2
  printf '\n===== [%d/%d] %s\n' "$nstep" "$total" "$*" >>"$log"
}
failed() {
  echo "cpython: FAILED at step $nstep; the last lines of $log:" >&2
  tail -n 25 "$log" >&2
}
trap failed ERR
run() { "$@" >>"$log" 2>&1; }

# --- 1. toolchain ---------------------------------------------------------------
step "toolchain: a clean WASI sysroot and a no-op wasm-opt"
# Debian's clang also searches the host's /usr/include; a sysroot made of
# links to wasi-libc alone keeps glibc's headers out of the guest.
sysroot="$work/sysroot"
mkdir -p "$sysroot/include" "$sysroot/lib" "$work/stub"
ln -sfn /usr/include/wasm32-wasi "$sysroot/include/wasm32-wasi"
ln -sfn /usr/lib/wasm32-wasi "$sysroot/lib/wasm32-wasi"
# clang runs wasm-opt from PATH after every optimised link; binaryen 108
# rejects clang-19's output, which makes configure's link tests fail
# silently. -B puts this stub first.
printf '#!/bin/sh\nexit 0\n' >"$work/stub/wasm-opt"
chmod +x "$work/stub/wasm-opt"
wasm_cc="$CC_BIN --target=wasm32-wasi --sysroot=$sysroot -B$work/stub"
wasm_cflags="-O2 -DNDEBUG"
prefix="$work/prefix"
mkdir -p "$prefix/include" "$prefix/lib"
echo "$toolchain_versions" >>"$log"

# --- 2. sources -----------------------------------------------------------------
step "sources: apt-get source of the pinned Debian packages"
src="$work/src"
py="$src/python3.11"
wasi_build="$work/wasi"
native_py="$work/native/python"
if ! done_step configure; then
rm -rf "$src" "$work/native" "$wasi_build" "$work/prefix" "$work/obj" "$work/xz-build" \
  "$work/sqlite-amal" "$work/sources.txt" "$work/patches.txt"
mkdir -p "$prefix/include" "$prefix/lib"
downloads="$cache/downloads/debian-src"
mkdir -p "$downloads"
chmod 755 "$downloads" 2>/dev/null || true
specs=()
while read -r name version; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  specs+=("$name=$version")
done <"$here/sources.lock"
if ! (cd "$downloads" && run apt-get source --download-only "${specs[@]}"); then
  die "apt-get source failed: the apt sources need deb-src entries for bookworm and bookworm-security, then apt-get update (see $log)"
fi

step "sources: unpack with signature checks, apply Debian's patches"
mkdir -p "$src"
dsc_of() {
  local name=$1 version=${2#*:}
  echo "$downloads/${name}_${version}.dsc"
}
declare -A srcdir
while read -r name version; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  dsc=$(dsc_of "$name" "$version")
  [[ -f "$dsc" ]] || die "missing $dsc"
  echo "source $name $version $(sha256sum "$dsc" | cut -d' ' -f1)" >>"$work/sources.txt"
  # Python: only Debian's fixes (security and crash fixes) are wanted, not
  # its packaging changes (install layout, multiarch), so patches are applied
  # one by one below. The others take Debian's whole series.
  if [[ $name == python3.11 ]]; then
    run dpkg-source --require-valid-signature --skip-patches -x "$dsc" "$src/$name"
  else
    run dpkg-source --require-valid-signature -x "$dsc" "$src/$name"
  fi
  srcdir[$name]="$src/$name"
done <"$here/sources.lock"

while read -r patch; do
  [[ -z "$patch" || "$patch" == \#* ]] && continue
  case "$patch" in
    CVE-* | *.patch | frame_dealloc-crash.diff | shutdown-deadlock.diff) ;;
    *) echo "debian patch $patch: not applied (Debian packaging)" >>"$work/patches.txt"; continue ;;
  esac
  if (cd "$py" && patch -p1 -N --dry-run -s <"debian/patches/$patch" >/dev/null 2>&1); then
    (cd "$py" && run patch -p1 -N -s <"debian/patches/$patch")
    echo "debian patch $patch: applied" >>"$work/patches.txt"
  else
    echo "debian patch $patch: does not apply to the WASI tree, skipped" >>"$work/patches.txt"
  fi
done <"$py/debian/patches/series"
(cd "${srcdir[xz-utils]}" && run patch -p1 -N <"$here/patches/xz-utils-wasi-no-sigmask.patch")
echo "our patch xz-utils-wasi-no-sigmask.patch: applied" >>"$work/patches.txt"
cat "$work/patches.txt" >>"$log"

# --- 3. libraries for the guest -------------------------------------------------
step "libraries for WASI: zlib, bzip2, liblzma, sqlite3"
wasm_lib() { # NAME SRCDIR EXTRA_CFLAGS FILES...
  local name=$1 dir=$2 extra=$3
  shift 3
  local objs=() f
  mkdir -p "$work/obj/$name"
  for f in "$@"; do
    $wasm_cc $wasm_cflags $extra -c "$dir/$f" -o "$work/obj/$name/$(basename "$f" .c).o" >>"$log" 2>&1
    objs+=("$work/obj/$name/$(basename "$f" .c).o")
  done
  run llvm-ar-19 rcs "$prefix/lib/lib$name.a" "${objs[@]}"
}
z="${srcdir[zlib]}"
# Without configure, zconf.h must be told that unistd.h exists.
wasm_lib z "$z" "-DHAVE_UNISTD_H -DHAVE_STDARG_H" adler32.c compress.c crc32.c deflate.c gzclose.c gzlib.c gzread.c \
  gzwrite.c infback.c inffast.c inflate.c inftrees.c trees.c uncompr.c zutil.c
cp "$z/zlib.h" "$z/zconf.h" "$prefix/include/"

b="${srcdir[bzip2]}"
wasm_lib bz2 "$b" "-D_FILE_OFFSET_BITS=64" blocksort.c huffman.c crctable.c randtable.c \
  compress.c decompress.c bzlib.c
cp "$b/bzlib.h" "$prefix/include/"

x="${srcdir[xz-utils]}"
mkdir -p "$work/xz-build"
(cd "$work/xz-build" && run env CC="$wasm_cc" CFLAGS="$wasm_cflags" AR=llvm-ar-19 RANLIB=llvm-ranlib-19 \
  "$x/configure" --host=wasm32-unknown-wasi --prefix="$prefix" --disable-shared --enable-static \
  --disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo --disable-scripts \
  --disable-doc --disable-threads --disable-nls --disable-lzma-links)
run make -C "$work/xz-build/src/liblzma" -j"$jobs"
run make -C "$work/xz-build/src/liblzma" install

s="${srcdir[sqlite3]}"
# The amalgamation is generated on the host (tclsh), then cross-compiled.
mkdir -p "$work/sqlite-amal"
(cd "$work/sqlite-amal" && run "$s/configure" && run make sqlite3.c)
sqlite_flags=(-DSQLITE_DEFAULT_UNIX_VFS='"unix-none"' -DSQLITE_OMIT_WAL -DSQLITE_MAX_MMAP_SIZE=0
  -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -D_WASI_EMULATED_GETPID
  -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_JSON1 -DSQLITE_ENABLE_MATH_FUNCTIONS
  -include "$here/wasi_shim.h")
mkdir -p "$work/obj/sqlite3"
$wasm_cc $wasm_cflags "${sqlite_flags[@]}" -c "$work/sqlite-amal/sqlite3.c" \
  -o "$work/obj/sqlite3/sqlite3.o" >>"$log" 2>&1
$wasm_cc $wasm_cflags -c "$here/wasi_shim.c" -o "$work/obj/sqlite3/wasi_shim.o" >>"$log" 2>&1
run llvm-ar-19 rcs "$prefix/lib/libsqlite3.a" "$work/obj/sqlite3/sqlite3.o" "$work/obj/sqlite3/wasi_shim.o"
cp "$work/sqlite-amal/sqlite3.h" "$prefix/include/"

# --- 4. the build Python ----------------------------------------------------------
step "native CPython $PYVER (the build Python; also byte-compiles the stdlib)"
mkdir -p "$work/native"
(cd "$work/native" && run "$py/configure" -C --without-ensurepip && run make -j"$jobs")
"$native_py" -c 'import sys; assert sys.version_info[:2] == (3, 11)' >>"$log" 2>&1

# --- 5. the guest -------------------------------------------------------------------
step "configure CPython for wasm32-wasi"
cp "$here/vivarium_entry.c" "$py/Modules/_vivarium.c"
mkdir -p "$wasi_build/Modules"
printf '# Vivarium: the host entry API, built in.\n*static*\n_vivarium _vivarium.c\n' \
  >"$wasi_build/Modules/Setup.local"
# 3.11's configure gives WASI a 512 KiB stack and a fixed 10 MiB initial
# memory; deep recursion needs 8 MiB, and wasm-ld sizes the initial memory
# itself when not told. It also leaves pymalloc out on WASI, so that every
# small object comes from wasi-libc's dlmalloc: with pymalloc (its arenas
# taken from malloc, as there is no mmap) the compute loop of
# bench/own_guest.sh runs in 0.83 of the time.
grep -q 'stack-size=524288 -Wl,--stack-first -Wl,--initial-memory=10485760' "$py/configure" ||
  die "configure's WASI link flags changed; update build.sh"
sed -i 's/-z stack-size=524288 -Wl,--stack-first -Wl,--initial-memory=10485760/-z stack-size=8388608 -Wl,--stack-first/' \
  "$py/configure"
lib_cflags="-I$prefix/include"
(cd "$wasi_build" && run env \
  CONFIG_SITE="$py/Tools/wasm/config.site-wasm32-wasi" \
  CC="$wasm_cc" CPP="$wasm_cc -E" AR=llvm-ar-19 RANLIB=llvm-ranlib-19 READELF=true \
  OPT="-DNDEBUG -fwrapv -O2" CFLAGS="-Wno-error=int-conversion" \
  CPPFLAGS="$lib_cflags" LDFLAGS="-L$prefix/lib" \
  PKG_CONFIG=false \
  ZLIB_CFLAGS="$lib_cflags" ZLIB_LIBS="-L$prefix/lib -lz" \
  BZIP2_CFLAGS="$lib_cflags" BZIP2_LIBS="-L$prefix/lib -lbz2" \
  LIBLZMA_CFLAGS="$lib_cflags" LIBLZMA_LIBS="-L$prefix/lib -llzma" \
  LIBSQLITE3_CFLAGS="$lib_cflags" LIBSQLITE3_LIBS="-L$prefix/lib -lsqlite3" \
  "$py/configure" -C --host=wasm32-unknown-wasi --build="$("$py/config.guess")" \
  --with-build-python="$native_py" --prefix=/usr/local --without-ensurepip \
  --disable-test-modules --disable-ipv6 --with-pymalloc)
stamp configure
else
  for s in 3 4 5 6; do step "(done before, reused)"; done
fi

step "compile CPython for wasm32-wasi"
cmp -s "$here/vivarium_entry.c" "$py/Modules/_vivarium.c" ||
  cp "$here/vivarium_entry.c" "$py/Modules/_vivarium.c"
# Reproducible output: __DATE__ and __TIME__ (in sys.version) are those of
# Debian's changelog entry (SOURCE_DATE_EPOCH), not of the build; the build
# tree's path is kept out of __FILE__ (-ffile-prefix-map) and out of getpath's
# VPATH (the source tree relative to the build tree, as configure would
# record it if run with a relative path). A build tree reused from an
# earlier build is cleaned first, so every object is built with these flags.
source_date_epoch=$(dpkg-parsechangelog -l "$py/debian/changelog" -STimestamp)
for mf in Makefile.pre Makefile; do
  sed -i "s|-DVPATH='\"\$(VPATH)\"'|-DVPATH='\"../src/python$PYVER\"'|" "$wasi_build/$mf"
done
grep -q "DVPATH='\"../src/python$PYVER\"'" "$wasi_build/Makefile" ||
  die "getpath's VPATH rule changed; update build.sh"
run make -C "$wasi_build" clean
# Without wasi-libc's start file: vivarium_entry.c brings the _start that
# runs the C constructors (see there).
run env SOURCE_DATE_EPOCH="$source_date_epoch" make -C "$wasi_build" -j"$jobs" \
  LINKFORSHARED=-nostartfiles CFLAGS_NODIST="-ffile-prefix-map=$work=/vivarium-build"
wasm="$wasi_build/python.wasm"
[[ -f "$wasm" ]] || die "no python.wasm was produced"
missing_mods=$(grep -E '^MODULE_(_SQLITE3|ZLIB|_BZ2|_LZMA|_JSON|_DECIMAL|PYEXPAT|_ZONEINFO|_VIVARIUM)_STATE=' \
  "$wasi_build/Makefile" | grep -v '=yes$' || true)
[[ -z "$missing_mods" ]] || die "modules not built in: $missing_mods"
grep -E '^MODULE_[A-Z0-9_]+_STATE=' "$wasi_build/Makefile" >"$work/modules.txt"

# --- 6. the standard library --------------------------------------------------------
step "standard library: copy, byte-compile for the guest"
stage="$work/out"
rm -rf "$stage" "$work/smoke"
lib="$stage/lib/python$PYVER"
mkdir -p "$lib"
(cd "$py/Lib" && tar --exclude='test' --exclude='tests' --exclude='idlelib' \
  --exclude='tkinter' --exclude='turtledemo' --exclude='ensurepip' --exclude='lib2to3' \
  --exclude='__pycache__' --exclude='*.pyc' -cf - .) | tar -C "$lib" -xf -
# The guest's build-time configuration (sysconfig) lives beside the stdlib.
sysconfigdata=$(find "$wasi_build/build" -name '_sysconfigdata_*.py' | head -n1)
[[ -n "$sysconfigdata" ]] || die "no _sysconfigdata for the guest"
mkdir -p "$lib/lib-dynload"
# The build tree's path, recorded in many build variables, as in __FILE__.
sed "s|$work|/vivarium-build|g" "$sysconfigdata" >"$lib/$(basename "$sysconfigdata")"
rm -f "$lib/turtle.py"
# unchecked-hash pycs are used without comparing the source's mtime, so the
# read-only tree needs no stat of every .py at import and the output does
# not depend on when it was unpacked.
# A fixed hash seed: the order of a frozenset constant in a .pyc follows
# its elements' hashes.
run env PYTHONHASHSEED=0 "$native_py" -E -s -m compileall -q -j"$jobs" \
  --invalidation-mode unchecked-hash -d "/usr/local/lib/python$PYVER" "$lib"
install -m 0644 "$wasm" "$stage/python.wasm"

step "smoke test under node:wasi: _start, built-in modules, the host entry API"
mkdir -p "$work/smoke"
node --no-warnings "$here/smoke.mjs" "$stage/python.wasm" "$lib" "$work/smoke" >>"$log" 2>&1 ||
  die "the smoke test failed (see $log)"

# --- 7. hashes and the record --------------------------------------------------------
step "hashes and build record"
find "$stage/lib" -exec touch -h -d @0 {} +
(cd "$stage" && find lib -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum >stdlib.sha256)
(cd "$stage" && sha256sum python.wasm stdlib.sha256 >SHA256SUMS)
{
  echo "CPython $PYVER for wasm32-wasi, built by guest/cpython/build.sh"
  echo "input hash: $input_hash"
  echo "stdlib prefix in the guest: /usr/local/lib/python$PYVER"
  echo "flags: OPT=-DNDEBUG -fwrapv -O2, stack 8 MiB, pymalloc"
  echo "SOURCE_DATE_EPOCH=$source_date_epoch (Debian's changelog); build tree recorded as /vivarium-build"
  echo
  cat "$work/sources.txt"
  echo
  echo "$toolchain_versions"
  echo
  cat "$work/patches.txt"
  echo
  cat "$work/modules.txt"
  echo
  cat "$stage/SHA256SUMS"
} >"$stage/build-info.txt"
cp "$log" "$stage/build.log"
chmod -R a+rX,go-w "$stage"

rm -rf "$out.tmp"
mv "$stage" "$out.tmp"
rm -rf "$out"
mv "$out.tmp" "$out"
verify_out "$out" || die "the output does not verify against its own hashes"
rm -rf "$work/out" "$work/smoke"
trap - ERR
echo "cpython: done in $(($(date +%s) - t0)) s: $out" >&2
((print_dir)) && echo "$out"
exit 0
}
