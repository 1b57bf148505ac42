#!/usr/bin/env bash
# Build and run the engine's C test (tests/c/test_engine.c) with one C
# compiler: bash tests/c/run.sh [CC]   (default: $CC, else cc).
#
# Compiles csrc/*.c and the test with -std=c99 -Wall -Wextra -Werror (GCC,
# Clang, MinGW-w64 GCC), links nothing but libm (and pthreads where the
# engine uses them), and runs the program: natively, under qemu-aarch64 for
# an aarch64 cross compiler, under wine for MinGW-w64. Where that runner is
# missing it says so and exits 0 after the build (compile and link only).
#
# The kernel files (activations.c, loss.c, grads.c, optim.c) are compiled
# once without MLPX_ISA: the "generic" path that every non-x86-64 build
# uses. With a native x86-64 compiler that takes -march=x86-64-v4, a second
# build mirrors CMake's kernel dispatch (the kernel files three times, with
# MLPX_ISA=v1/v3/v4 and -march=x86-64/-v3/-v4, MLPX_DISPATCH elsewhere) and
# runs once per kernel path this CPU has (MLPX_CPU).
#
# Extra flags: CFLAGS (e.g. CFLAGS=-fsanitize=address,undefined).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cc=${1:-${CC:-cc}}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

target=$("$cc" -dumpmachine 2>/dev/null || echo unknown)
host=$(uname -m)
echo "== $cc ($("$cc" --version 2>/dev/null | head -n1)), target $target"

warn=(-std=c99 -Wall -Wextra -Werror)
opt=(-O2 -ffp-contract=off -fno-math-errno)
libs=(-lm)
exe="$out/test_engine"
runner=()
case "$target" in
  *mingw*|*windows*)
    exe="$out/test_engine.exe"
    # Debian's wine64 package puts its loader in /usr/lib/wine only
    wine=$(command -v wine || command -v wine64 || ls /usr/lib/wine/wine64 2>/dev/null || true)
    if [ -n "$wine" ]; then runner=(env WINEDEBUG=-all "$wine")
    else runner=(none "wine is not installed"); fi ;;
  *)
    libs+=(-pthread)
    arch=${target%%-*}
    if [ "$arch" != "$host" ] && [ "$arch" != unknown ]; then
      if command -v "qemu-$arch" >/dev/null; then
        sysroot=/usr/$target
        runner=(env "QEMU_LD_PREFIX=$sysroot" "qemu-$arch")
      else
        runner=(none "qemu-$arch is not installed")
      fi
    fi ;;
esac

kernels=(activations.c loss.c grads.c optim.c)
is_kernel() { local k; for k in "${kernels[@]}"; do [ "$1" = "$k" ] && return 0; done; return 1; }
# per-file flags as CMakeLists.txt gives them (the vector-exp files)
file_flags() {
  case "$1" in
    activations.c|loss.c) echo "-ffp-contract=fast -fno-trapping-math" ;;
  esac
}

# compile one file: objects go to $2; $3... extra flags
compile() {
  local src=$1 obj=$2; shift 2
  # shellcheck disable=SC2046
  "$cc" "${warn[@]}" "${opt[@]}" $(file_flags "$(basename "$src")") "$@" ${CFLAGS:-} \
    -I"$root/csrc" -c "$src" -o "$obj"
}

run() {
  local exe=$1; shift
  if [ "${runner[0]:-}" = none ]; then
    echo "note: built $(basename "$exe"), not run (${runner[1]}): compile and link only"
    return 0
  fi
  local t0=$SECONDS
  # wine: Windows paths are not needed, the file is given as is
  "${runner[@]}" "$exe" "$@"
  echo "(ran in $((SECONDS - t0)) s${runner:+ under ${runner[*]: -1}})"
}

# ---- generic build: every file once ----
objs=()
for src in "$root"/csrc/*.c; do
  obj="$out/$(basename "${src%.c}").o"
  compile "$src" "$obj"
  objs+=("$obj")
done
compile "$here/test_engine.c" "$out/test_engine.o"
# shellcheck disable=SC2086
"$cc" ${CFLAGS:-} -o "$exe" "$out/test_engine.o" "${objs[@]}" "${libs[@]}"
echo "-- generic build"
run "$exe"

# ---- dispatch build: native x86-64 compilers that take -march=x86-64-v4 ----
case "$target" in x86_64*linux*|x86_64*darwin*) ;; *) exit 0 ;; esac
[ "$host" = x86_64 ] || exit 0
if ! echo 'int main(void){return 0;}' | "$cc" -march=x86-64-v4 -x c -c -o /dev/null - 2>/dev/null; then
  echo "note: $cc lacks -march=x86-64-v4: no dispatch build (CMake then builds generic kernels too)"
  exit 0
fi
dobjs=()
for src in "$root"/csrc/*.c; do
  name=$(basename "$src")
  if is_kernel "$name"; then
    for level in v1 v3 v4; do
      case $level in v1) march=x86-64 ;; *) march=x86-64-$level ;; esac
      obj="$out/d_${name%.c}_$level.o"
      compile "$src" "$obj" -DMLPX_ISA=$level -march=$march
      dobjs+=("$obj")
    done
  else
    obj="$out/d_${name%.c}.o"
    compile "$src" "$obj" -DMLPX_DISPATCH
    dobjs+=("$obj")
  fi
done
# shellcheck disable=SC2086
"$cc" ${CFLAGS:-} -o "$out/test_dispatch" "$out/test_engine.o" "${dobjs[@]}" "${libs[@]}"
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
paths=(x86-64)
case "$flags" in *" avx2 "*" bmi2 "*|*" bmi2 "*" avx2 "*) paths+=(x86-64-v3) ;; esac
case "$flags" in *" avx512bw "*) paths+=(x86-64-v4) ;; esac
for p in "${paths[@]}"; do
  echo "-- dispatch build, MLPX_CPU=$p"
  MLPX_CPU=$p run "$out/test_dispatch"
done
