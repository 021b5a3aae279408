#!/usr/bin/env bash
# Safe copy benchmark (`make bench`, issue #23): time per page and size of PDFs' safe copies on text, scan and photo
# PDFs, next to Dangerzone's way on the same pages (lossless RGB Flate at 150 DPI). It prints figures; it never fails
# on a slow result (only on a broken run).
#
#   Benchmarks/safecopy.sh                 # about a minute on 2 cores
#   BENCH_REPEAT=5 Benchmarks/safecopy.sh  # more rounds
#
# Corpus (Benchmarks/corpus/bench_pdf_corpus.py, into bench-out/safecopy/corpus): 10 pages of vector text, 5 pages
# of greyscale scans (200 DPI JPEG), 4 pages of colour photos. `mediaworker-bench safe-copies` (SafeCopyBench.swift)
# measures, per file: rendering as a helper does (1 libvips thread), encoding as the parent does, the copy's size,
# Dangerzone's size, and what the copy adds to a job on the real path (helper + parent, copies on vs off); then all
# files through 2 helpers side by side (the 2 cores) as seconds per page. Goal: at most half of Dangerzone's size,
# at most 0.3 s per page on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
bench_out safecopy
REPEAT=${BENCH_REPEAT:-3}
missing=()
add_missing_debs libvips-tools
install_missing "${missing[@]}"
python3 Benchmarks/corpus/bench_pdf_corpus.py "$OUT/corpus" >>"$LOG"
if [ -n "${BENCH_BIN:-}" ]; then BIN=$BENCH_BIN; else build_release mediaworker mediaworker-bench; fi
"$BIN/mediaworker-bench" safe-copies "$OUT"/corpus/text_10_pages.pdf "$OUT"/corpus/scan_5_pages.pdf \
  "$OUT"/corpus/photo_4_pages.pdf --repeat "$REPEAT" --helper "$BIN/mediaworker" 2>>"$LOG" | tee "$OUT/safecopy.txt"
