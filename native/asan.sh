#!/usr/bin/env bash
# The codec addon built with AddressSanitizer, running the codec's tests and its fuzz corpus: an out-of-bounds
# write or read in the C scanners aborts the test that caused it. Node itself is not instrumented, so the ASan
# runtime is preloaded; leaks are not checked (V8 and libuv keep allocations until exit by design).
# Usage: native/asan.sh [tap test files…]   (after `npm run build`; default: the codec tests)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${ASAN_BUILD_DIR:-$PWD/native/.asan}
rm -rf "$out"
mkdir -p "$out"
cp -a native/common "$out/common"
mkdir -p "$out/codec"
cp -a native/codec/binding.gyp native/codec/src "$out/codec/"
CFLAGS="-fsanitize=address -fno-omit-frame-pointer -g -O1" LDFLAGS="-fsanitize=address" \
  npx node-gyp rebuild -C "$out/codec" --loglevel=warn >/dev/null
libasan=$(gcc -print-file-name=libasan.so)
tests=("$@")
if ((${#tests[@]} == 0)); then
  tests=(dist/test/codec/envelope.test.js dist/test/codec/decode.test.js dist/test/codec/numbers.test.js dist/test/codec/inline.test.js)
fi
# The corpus: FUZZ_ENVELOPE_CASES bodies generated and mutated by the envelope test (seeded, the same every run).
NATIVE_ADDON_DIR="$out" LD_PRELOAD="$libasan" ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:verify_asan_link_order=0" \
  FUZZ_ENVELOPE_CASES=${FUZZ_ENVELOPE_CASES:-20000} npx tap --before= --after= --disable-coverage "${tests[@]}"
