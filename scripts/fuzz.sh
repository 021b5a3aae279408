#!/usr/bin/env bash
# make fuzz: the libFuzzer targets under Fuzz/, built with the Swift toolchain's -sanitize=fuzzer,address, each
# run for FUZZ_SECONDS (default 60) from seeds made of Fixtures/. Prints executions, coverage and crashes per target.
#
#   make fuzz                    # every target, 60 s each
#   FUZZ_SECONDS=600 FUZZ_TARGETS=fuzz-decoders make fuzz
#
# Targets: fuzz-pipeline (MediaPipeline.process, visitor or operator) and fuzz-decoders (each decoder entry alone:
# Ogg/Opus, Ogg Vorbis, MP3, Ogg codec identification, PDF structure check, WebP chunk stripper, MP3 gain adjuster,
# libmagic sniff + policy, the voice-note transcoder) and fuzz-http (the Range header, the file-name sanitiser,
# signed-URL verification, that a genuine signed URL with one byte changed never verifies, and the upload's query
# parameters: accepted exactly as the OpenAPI document describes, and stable when encoded and parsed again). A crash, leak-free timeout (-timeout=10 s per input) or
# out-of-memory (-rss_limit_mb) input is written to bench-out/fuzz/TARGET-crash-… (or timeout-, oom-); replay it
# with the target built without FUZZING (`swift build --product fuzz-pipeline`, then `fuzz-pipeline FILE`) and add
# it to Fixtures/hostile/ with its expected outcome so the fixture suite replays it for ever.
# Swift's backtracer is off in fuzz runs (SWIFT_BACKTRACE=enable=no): with it on, a crashing run can hang.
# The pipeline's C targets (CAVCodec, CVipsOperations, CAudioDecoding: the memory readers and seekers the decoders
# call with the fuzzer's bytes) get the same coverage and AddressSanitizer through -Xcc (-Xswiftc reaches only
# Swift); fuzz-http has no C of ours, and its packages' C (BoringSSL, NIO) stays as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-fuzz-pipeline fuzz-decoders fuzz-http}
SCRATCH=.build-fuzz
OUT=bench-out/fuzz
mkdir -p "$OUT"

for target in $TARGETS; do
  echo "== build $target (-sanitize=fuzzer,address)"
  c_flags=()
  case $target in fuzz-pipeline|fuzz-decoders) c_flags=(-Xcc -fsanitize=fuzzer-no-link,address) ;; esac
  swift build --scratch-path "$SCRATCH" --product "$target" -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
    "${c_flags[@]}" \
    2>&1 | grep -vE '^warning: prohibited flag' | tail -n 1
done
BIN=$(swift build --scratch-path "$SCRATCH" --show-bin-path)

# Seeds: every fixture of at most 1 MiB but the known decoder attacks (fixtures with `settings`: they hang or
# exhaust memory in-process by design, and the helper processes contain them); for fuzz-decoders each is prefixed with the selector byte of the decoder
# that fits it (and all go to libmagic), so the fuzzer starts inside each parser.
seed() {  # seed DIR SELECTOR FILE
  local name
  name=$(basename "$3")
  if [ -n "$2" ]; then { printf "\\x$(printf %02x "$2")"; cat "$3"; } >"$1/$2-$name"; else cp "$3" "$1/$name"; fi
}
rm -rf "$OUT/seeds"
mkdir -p "$OUT/seeds/fuzz-pipeline" "$OUT/seeds/fuzz-decoders" "$OUT/seeds/fuzz-http"
# fuzz-http: a few requests as browsers and the desk send them.
printf '\x00\x00\x01\x00\x00bytes=0-1' >"$OUT/seeds/fuzz-http/range-first-bytes"
printf '\x00\x00\x01\x00\x00bytes=-500' >"$OUT/seeds/fuzz-http/range-suffix"
printf '\x01../../\xe2\x80\xaefdp.exe.png' >"$OUT/seeds/fuzz-http/name-rtl"
printf '\x02/v1/media/0193a000-0000-7000-8000-000000000000/thumbnail\n1800000600\nAAAA' >"$OUT/seeds/fuzz-http/signed"
printf '\x03\x10A' >"$OUT/seeds/fuzz-http/changed-url"
printf '\x04from=visitor&declaredType=image/jpeg&fileName=IMG-20261125-WA0001.jpg&idempotencyKey=wamid.HBgL:0&conversationId=c-1&businessNumber=%%2B34600000000&channel=whatsapp&sha256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855' \
  >"$OUT/seeds/fuzz-http/upload-all"
printf '\x04from=operator&fileName=..%%2F..%%2F%%E2%%80%%AEfdp.exe.png&sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85' \
  >"$OUT/seeds/fuzz-http/upload-short-sha"
printf '\x04from=visitor&from=operator&channel=whatsapp&fileName=%%&businessNumber=+34600000000' >"$OUT/seeds/fuzz-http/upload-repeated"
cp Fixtures/hostile/fuzz/http_* "$OUT/seeds/fuzz-http/"
while IFS= read -r f; do
  seed "$OUT/seeds/fuzz-pipeline" "" "$f"
  seed "$OUT/seeds/fuzz-decoders" 7 "$f"
  case "$f" in
    *.ogg) for s in 0 1 3 8; do seed "$OUT/seeds/fuzz-decoders" "$s" "$f"; done ;;
    *.mp3) for s in 2 6 8; do seed "$OUT/seeds/fuzz-decoders" "$s" "$f"; done ;;
    *.pdf) seed "$OUT/seeds/fuzz-decoders" 4 "$f" ;;
    *.webp) seed "$OUT/seeds/fuzz-decoders" 5 "$f" ;;
    *.mp4) for s in 9 10 27; do seed "$OUT/seeds/fuzz-decoders" "$s" "$f"; done ;;  # 27 = 11 + 16: MP4 input
    *.mov) seed "$OUT/seeds/fuzz-decoders" 26 "$f" ;;                                  # 26 = 10 + 16: QuickTime
    *.gif) seed "$OUT/seeds/fuzz-decoders" 11 "$f" ;;
    *.jpg) seed "$OUT/seeds/fuzz-decoders" 9 "$f" ;;
  esac
done < <(find Fixtures -type f -size -1025k ! -name '*.json' ! -name '*.md' ! -name '*.py' \
           | grep -vxF -f <(python3 -c 'import json; [print("Fixtures/" + f["file"]) for f in json.load(open("Fixtures/fixtures.json"))["fixtures"] if "settings" in f]'))

printf '\n%-15s %12s %10s %10s %8s  %s\n' target executions exec/s coverage crashes "found"
for target in $TARGETS; do
  corpus=$OUT/corpus/$target
  mkdir -p "$corpus"
  rm -f "$OUT/$target"-crash-* "$OUT/$target"-timeout-* "$OUT/$target"-oom-* "$OUT/$target"-leak-*
  set +e
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
    "$BIN/$target" "$corpus" "$OUT/seeds/$target" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=3072 \
    -max_len=1048576 -print_final_stats=1 -artifact_prefix="$OUT/$target-" >"$OUT/$target.log" 2>&1
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$target.log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$OUT/$target.log" | tail -n 1)
  cov=$({ grep -oE 'cov: [0-9]+' "$OUT/$target.log" || true; } | tail -n 1 | awk '{print $2}')
  found=$(ls "$OUT/$target"-crash-* "$OUT/$target"-timeout-* "$OUT/$target"-oom-* 2>/dev/null || true)
  printf '%-15s %12s %10s %10s %8s  %s\n' "$target" "${runs:-?}" "${rate:-?}" "${cov:-?}" "$(echo -n "$found" | grep -c . || true)" \
    "$(echo "$found" | tr '\n' ' ')"
done
echo "logs: $OUT/*.log; corpora kept in $OUT/corpus/ (they grow run after run)"
