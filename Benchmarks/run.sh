#!/usr/bin/env bash
# Thumbnail benchmark (`make bench`): mediaworker's pipeline next to vipsthumbnail, Pillow and ImageMagick on
# the same files with the same output (longest side 480 px, WebP quality 80, metadata stripped, EXIF
# orientation applied), then the peak RSS of `mediaworker process` on the largest allowed inputs.
# It prints figures; it never fails on a slow result (only on a broken run).
#
#   Benchmarks/run.sh            # everything (about 2-3 minutes on 2 cores)
#   BENCH_REPEAT=9 BENCH_THREADS=1 Benchmarks/run.sh   # more rounds; ours on one thread
#
# Steps: install missing tools (apt-get; sudo when not root) -> swift build -c release -> corpus
# (Benchmarks/corpus/bench_corpus.py, cached in bench-out/) -> BENCH_REPEAT (5) interleaved rounds of every tool, best
# wall time each (GNU time also gives CPU time) -> table -> per-group table (ours vs vipsthumbnail) -> RSS. Outputs land in bench-out/ (git-ignored);
# tool stderr goes to bench-out/bench.log.
set -euo pipefail
# Internal mode: the ImageMagick peer (one `convert` per file, serial) as one command GNU time can time.
if [ "${1:-}" = --convert-loop ]; then
  dest=$2
  shift 2
  for f in "$@"; do /usr/bin/convert "$f" -auto-orient -thumbnail 480x480 -quality 80 "$dest/$(basename "$f").webp"; done
  exit 0
fi
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
ROOT=$PWD
OUT=$ROOT/bench-out
REPEAT=${BENCH_REPEAT:-5}
THREADS=${BENCH_THREADS:-$(nproc)}
PY=/usr/bin/python3                      # Debian's python3 with python3-pil, whatever python3 is first in PATH
LOG=$OUT/bench.log
mkdir -p "$OUT"
: >"$LOG"

# ------------------------------------------------------------------------------------------- tools
missing=()
command -v vipsthumbnail >/dev/null || missing+=(libvips-tools)
[ -x /usr/bin/convert ] || missing+=(imagemagick)
$PY -c 'from PIL import features; assert features.check("webp")' 2>/dev/null || missing+=(python3-pil)
[ -x /usr/bin/time ] || missing+=(time)
command -v webpinfo >/dev/null || missing+=(webp)
pkg-config --exists vips 2>/dev/null || missing+=(libvips-dev)
pkg-config --exists libmagic 2>/dev/null || missing+=(libmagic-dev)
install_missing "${missing[@]}"
CONVERT=/usr/bin/convert                 # ImageMagick's own convert (Debian alternatives link)
SWIFT=$(command -v swift || echo /opt/swift/usr/bin/swift)

# ------------------------------------------------------------------------------------------- build + corpus
echo "== build: $SWIFT build -c release"
"$SWIFT" build -c release 2>&1 | grep -vE '^warning: prohibited flag' | tail -n 3
BIN=$("$SWIFT" build -c release --show-bin-path)
echo "== corpus"
$PY Benchmarks/corpus/bench_corpus.py --out "$OUT" | tail -n 1

mapfile -t FILES < <(find "$OUT/corpus" -type f ! -name '.*' | sort)
N=${#FILES[@]}
GROUPS_=(whatsapp camera screenshots)
THUMBS=$OUT/thumbs

declare -A WALL CPU
# ours_run KEY DIR [args]: one mediaworker-bench run (--repeat 1); its in-process figures go to WALL/CPU[KEY],
# the whole process (start-up included, under GNU time) to WALL/CPU[KEY_process].
ours_run() {
  local key=$1 dir=$2 line w c
  shift 2
  time_run "${key}_process" "$THUMBS/$key" "$BIN/mediaworker-bench" thumbnails "$dir" --threads "$THREADS" \
    --repeat 1 --quiet "$@"
  line=$(grep '^RESULT ours_seconds=' "$LOG" | tail -n 1)
  w=$(sed 's/.*ours_seconds=\([0-9.]*\).*/\1/' <<<"$line")
  c=$(sed 's/.*cpu_seconds=\([0-9.]*\).*/\1/' <<<"$line")
  if [ -z "${WALL[$key]:-}" ] || awk -v t="$w" -v b="${WALL[$key]}" 'BEGIN { exit !(t < b) }'; then
    WALL[$key]=$w
    CPU[$key]=$(awk -v c="$c" 'BEGIN { printf "%.2f", c }')
  fi
}
# check_outputs NAME [meta-ok]: every file has a WebP thumbnail, longest side 480, and no EXIF/XMP/ICC chunk
# (unless meta-ok: libvips 8.14's webpsave writes EXIF and ICC chunks even with `strip`, so vipsthumbnail's
# files keep them; the pipeline removes them itself). Prints the average thumbnail size in KiB.
check_outputs() {
  $PY - "$THUMBS/$1" "$N" "$1" "${2:-}" <<'EOF'
import os, sys
from PIL import Image
d, n, name, meta_ok = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "meta-ok"
files = sorted(os.listdir(d))
bad, total = [], 0
for f in files:
    data = open(os.path.join(d, f), "rb").read()
    total += len(data)
    with Image.open(os.path.join(d, f)) as im:
        if im.format != "WEBP" or max(im.size) != 480:
            bad.append(f"{f}: {im.format} {im.size}")
    at = 12
    while at + 8 <= len(data):
        cc, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        if cc in (b"EXIF", b"XMP ", b"ICCP") and not meta_ok:
            bad.append(f"{f}: {cc.decode()} chunk")
        at += 8 + size + (size & 1)
if len(files) != n or bad:
    sys.exit(f"{name}: {len(files)}/{n} thumbnails; {bad[:5]}")
print(f"{total / n / 1024:.1f}")
EOF
}

echo "== versions"
echo "cores: $(nproc); threads for ours: $THREADS; best of $REPEAT"
echo "$(vips --version), $($CONVERT -version | head -n 1 | cut -d' ' -f2-3), Pillow $($PY -c 'import PIL; print(PIL.__version__)'), libwebp $(cwebp -version 2>/dev/null | head -n 1)"
echo "corpus: $N files ($(du -sh --apparent-size "$OUT/corpus" | cut -f1)):" \
  "$(for g in "${GROUPS_[@]}"; do printf '%s %s  ' "$(find "$OUT/corpus/$g" -type f | wc -l)" "$g"; done)"

# ------------------------------------------------------------------------------------------- throughput
# Rounds: every tool runs once per round, REPEAT rounds, best wall time per tool. Interleaving spreads any
# load from other processes over all tools instead of punishing whichever ran during it.
echo "== throughput: $N files, best of $REPEAT interleaved rounds; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
VT=(vipsthumbnail -s 480 --export-profile srgb)
for round in $(seq "$REPEAT"); do
  ours_run ours "$OUT/corpus" --out "$THUMBS/ours"
  time_run vipsthumbnail "$THUMBS/vipsthumbnail" "${VT[@]}" -o "$THUMBS/vipsthumbnail/%s.webp[Q=80,strip]" "${FILES[@]}"
  time_run pillow "$THUMBS/pillow" $PY Benchmarks/peers/pillow_thumbs.py "$THUMBS/pillow" "${FILES[@]}"
  time_run pillow_2p "$THUMBS/pillow_2p" $PY Benchmarks/peers/pillow_thumbs.py "$THUMBS/pillow_2p" "${FILES[@]}" --procs 2
  time_run convert "$THUMBS/convert" "$SELF" --convert-loop "$THUMBS/convert" "${FILES[@]}"
  echo "  round $round: ours ${WALL[ours]} s, vipsthumbnail ${WALL[vipsthumbnail]} s, Pillow ${WALL[pillow]} s," \
    "Pillow 2p ${WALL[pillow_2p]} s, ImageMagick ${WALL[convert]} s (best so far)"
done
declare -A KB
KB[ours]=$(check_outputs ours)
KB[vipsthumbnail]=$(check_outputs vipsthumbnail meta-ok)
for k in pillow pillow_2p convert; do KB[$k]=$(check_outputs $k); done

row() { # LABEL KEY TARGET
  awk -v l="$1" -v s="${WALL[$2]}" -v c="${CPU[$2]}" -v o="${WALL[ours]}" -v oc="${CPU[ours]}" -v n="$N" \
    -v k="${KB[$2]:--}" -v t="$3" -v key="$2" 'BEGIN {
    r = s / o
    verdict = (t == "") ? "" : (r >= t ? sprintf("target >= %gx: met", t) : sprintf("target >= %gx: MISSED by %.0f%%", t, 100 * (1 - r / t)))
    ratio = (key ~ /^ours/) ? "-" : sprintf("%.2fx", r)
    cratio = (key ~ /^ours/) ? "-" : sprintf("%.2fx", c / oc)
    printf "%-46s %7.3f %8.2f %8s %7.2f %8s %8s  %s\n", l, s, n / s, ratio, c, cratio, k, verdict }'
}
printf '%-46s %7s %8s %8s %7s %8s %8s\n' "tool" "wall s" "files/s" "ratio" "CPU s" "CPU rat." "avg KiB"
row "ours: mediaworker-bench, $THREADS threads (in-process)" ours ""
row "ours, whole process incl. start-up" ours_process ""
row "vipsthumbnail, one invocation" vipsthumbnail 1.5
row "Pillow draft mode, serial" pillow 2
row "Pillow draft mode, 2 processes" pillow_2p ""
row "ImageMagick convert -thumbnail, one per file" convert 8
echo "ratio = tool wall seconds / ours wall seconds (above 1: ours is faster); CPU ratio the same with user+system CPU."
echo "The Pillow target applies to the serial row. vipsthumbnail's WebPs keep EXIF and ICC chunks (libvips 8.14"
echo "webpsave ignores strip); ours, Pillow and ImageMagick write none."
for key in vipsthumbnail pillow pillow_2p convert; do
  awk -v k="$key" -v s="${WALL[$key]}" -v o="${WALL[ours]}" -v p="${WALL[ours_process]}" \
    'BEGIN { printf "RESULT ratio_%s=%.2f ratio_%s_vs_whole_process=%.2f\n", k, s / o, k, s / p }'
done

# ------------------------------------------------------------------------------------------- per group
echo "== per group: ours ($THREADS threads, in-process) vs vipsthumbnail (one invocation per group), best of $REPEAT rounds"
for round in $(seq "$REPEAT"); do
  for g in "${GROUPS_[@]}"; do
    mapfile -t GF < <(find "$OUT/corpus/$g" -type f | sort)
    ours_run "ours_$g" "$OUT/corpus/$g"
    time_run "vips_$g" "$THUMBS/vips_$g" "${VT[@]}" -o "$THUMBS/vips_$g/%s.webp[Q=80,strip]" "${GF[@]}"
  done
done
printf '%-12s %5s %9s %9s %8s %9s %9s %10s\n' group files "ours s" "vips s" ratio "ours CPU" "vips CPU" "ours ms/f"
for g in "${GROUPS_[@]}"; do
  n=$(find "$OUT/corpus/$g" -type f | wc -l)
  awk -v g="$g" -v n="$n" -v o="${WALL[ours_$g]}" -v v="${WALL[vips_$g]}" -v oc="${CPU[ours_$g]}" -v vc="${CPU[vips_$g]}" \
    'BEGIN { printf "%-12s %5d %9.3f %9.3f %7.2fx %9.2f %9.2f %10.1f\n", g, n, o, v, v / o, oc, vc, 1000 * oc / n }'
done
echo "(ours ms/f = CPU milliseconds per file)"

# ------------------------------------------------------------------------------------------- peak RSS
echo "== peak RSS of \`mediaworker process FILE\` (release; GNU time %M), target <= 150 MB on the 5 MiB JPEG"
printf '%-34s %-12s %10s %9s %16s\n' file pixels bytes "RSS MB" "vipsthumbnail MB"
for f in Fixtures/images/camera_5mib.jpg "$OUT/rss/near_50mp.jpg" "$OUT/rss/progressive_12mp.jpg"; do
  rm -rf "$OUT/rss-out"
  mkdir -p "$OUT/rss-out"
  json=$(/usr/bin/time -f %M -o "$OUT/rss.kb" "$BIN/mediaworker" process "$f" --out "$OUT/rss-out")
  case $json in *'"status":"accepted"'*'"role":"thumbnail"'*) ;; *) echo "FAILED: $f: $json" >&2; exit 1 ;; esac
  kb=$(cat "$OUT/rss.kb")
  /usr/bin/time -f %M -o "$OUT/rss.kb" vipsthumbnail "$f" -s 480 --export-profile srgb -o "$OUT/rss-out/v.webp[Q=80,strip]" 2>>"$LOG"
  vkb=$(cat "$OUT/rss.kb")
  dims=$(vipsheader -f width "$f" 2>/dev/null)x$(vipsheader -f height "$f" 2>/dev/null)
  awk -v f="$(basename "$f")" -v d="$dims" -v b="$(stat -c %s "$f")" -v kb="$kb" -v vkb="$vkb" \
    'BEGIN { printf "%-34s %-12s %10d %9.1f %16.1f\n", f, d, b, kb * 1024 / 1e6, vkb * 1024 / 1e6 }'
  echo "RESULT rss_kb_$(basename "$f" .jpg)=$kb" >>"$LOG"
done
echo "(MB = 10^6 bytes; GNU time reports KiB)"
