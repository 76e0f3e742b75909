#!/usr/bin/env bash
# Builds the example apps to WebAssembly (wasm32-wasi, WASI preview 1), each .wasm next to its
# source. The .wasm files are committed: the worker's tests and the worker load them.
#
#   examples/build.sh           rebuild examples/*/<name>.wasm
#   examples/build.sh --check   rebuild into a temporary directory and fail, naming the file,
#                               if a committed .wasm differs from what its source builds to
#
# Needs Debian's clang and WASI libc:
#   apt-get install -y --no-install-recommends clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc
#
# The output is byte-identical across runs and checkouts: sources are compiled from the
# repository root by relative path, the root is mapped to "." in anything the compiler records
# (-ffile-prefix-map), and the linker strips debug info and the name section (--strip-all).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

apps=(hello dataset-reader)

CC=${CC:-clang-19}
CFLAGS=(--target=wasm32-wasi -O2 -Wall -Wextra -Werror "-ffile-prefix-map=$root=." -Wl,--strip-all)

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *)
    echo "usage: examples/build.sh [--check]" >&2
    exit 2
    ;;
esac

if ! command -v "$CC" >/dev/null 2>&1; then
  echo "examples/build.sh: $CC not found; install the toolchain with:" >&2
  echo "  apt-get install -y --no-install-recommends clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc" >&2
  exit 1
fi

if $check; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
else
  out=
fi

status=0
for app in "${apps[@]}"; do
  src=examples/$app/$app.c
  wasm=examples/$app/$app.wasm
  if $check; then
    "$CC" "${CFLAGS[@]}" -o "$out/$app.wasm" "$src"
    if [ ! -f "$wasm" ]; then
      echo "examples/build.sh --check: $wasm is missing; run examples/build.sh" >&2
      status=1
    elif ! cmp -s "$out/$app.wasm" "$wasm"; then
      echo "examples/build.sh --check: $wasm differs from what $src builds to; run examples/build.sh" >&2
      status=1
    else
      echo "$wasm: up to date"
    fi
  else
    "$CC" "${CFLAGS[@]}" -o "$wasm" "$src"
    echo "$wasm: $(wc -c <"$wasm") bytes"
  fi
done
exit "$status"
