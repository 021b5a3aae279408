#!/usr/bin/env bash
# Animation benchmark (`make bench`): mediaworker's pipeline next to the ffmpeg CLI doing the same work on the
# same files. It prints figures; it never fails on a slow result (only on a broken run).
#
#   scripts/bench_animations.sh                 # about 2 minutes on 2 cores
#   BENCH_REPEAT=5 scripts/bench_animations.sh  # more rounds
#
# Corpus (made here with ffmpeg from the Debian mate-backgrounds photos, cached in bench-out/animations):
# 16 operator GIFs (pans across photos, 240-480 px, 1-4 s, 10-15 fps, palettegen) and 16 visitor MP4s (what
# WhatsApp makes of a GIF: H.264 yuv420p, faststart, silent).
#
# Both sides use both cores the same way: ours = `mediaworker-bench animations` with 2 OS threads taking
# files; the peer = 2 ffmpeg processes at a time (xargs -P 2), each `-threads 1` like our one-thread encoder.
#   GIF -> MP4:   ffmpeg -i IN.gif -an -c:v libx264 -preset veryfast -crf 23 -bf 0 -pix_fmt yuv420p
#                 -vf scale=trunc(iw/2)*2:trunc(ih/2)*2 -movflags +faststart OUT.mp4
#                 ours also sniffs the file and makes its WebP thumbnail (more work than the peer).
#   thumbnails:   ffmpeg -i IN.mp4 -frames:v 1 -vf scale=480:480:force_original_aspect_ratio=decrease
#                 -c:v libwebp -quality 80 OUT.webp
#                 ours also decodes every audio frame (silence check) and checks the index position.
# Peak RSS: GNU time's maximum resident set of each side's whole run.
set -euo pipefail
if [ "${1:-}" = --peer ]; then
  mode=$2 dest=$3 f=$4
  name=$(basename "$f")
  if [ "$mode" = gif2mp4 ]; then
    exec ffmpeg -nostdin -loglevel error -threads 1 -y -i "$f" -an -c:v libx264 -preset veryfast -crf 23 -bf 0 \
      -threads 1 -pix_fmt yuv420p -vf 'scale=trunc(iw/2)*2:trunc(ih/2)*2' -movflags +faststart "$dest/$name.mp4"
  else
    exec ffmpeg -nostdin -loglevel error -threads 1 -y -i "$f" -frames:v 1 \
      -vf 'scale=480:480:force_original_aspect_ratio=decrease' -c:v libwebp -quality 80 "$dest/$name.webp"
  fi
fi
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench_lib.sh
source scripts/bench_lib.sh
ROOT=$PWD
OUT=$ROOT/bench-out/animations
REPEAT=${BENCH_REPEAT:-3}
mkdir -p "$OUT"
LOG=$OUT/bench.log
: >"$LOG"

missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
[ -x /usr/bin/time ] || missing+=(time)
add_missing_debs libavformat-dev libavcodec-dev libswscale-dev libvips-dev libmagic-dev
install_missing "${missing[@]}"
build_release mediaworker-bench

# ------------------------------------------------------------------------------------------- corpus
CORPUS=$OUT/corpus
if [ ! -f "$CORPUS/.done" ]; then
  echo "== corpus"
  rm -rf "$CORPUS"; mkdir -p "$CORPUS/gif" "$CORPUS/mp4"
  wall=$(mktemp -d); trap 'rm -rf "$wall"' EXIT
  (cd "$wall" && apt-get download mate-backgrounds >/dev/null 2>&1 && dpkg -x ./*.deb root)
  mapfile -t photos < <(find "$wall/root/usr/share/backgrounds/mate/nature" -name '*.jpg' | sort | head -n 8)
  i=0
  for size in 240 320 400 480; do
    for secs in 1 2 3 4; do
      photo=${photos[$((i % ${#photos[@]}))]}
      fps=$((10 + (i % 2) * 5))
      h=$((size * 9 / 16 / 2 * 2))
      pan="scale=-2:$((h * 2)),crop=$size:$h:'(iw-$size)*t/$secs':'(ih-$h)/2'"
      ffmpeg -nostdin -loglevel error -y -loop 1 -framerate "$fps" -t "$secs" -i "$photo" \
        -vf "$pan,split[a][b];[a]palettegen=max_colors=128[p];[b][p]paletteuse" "$CORPUS/gif/g$i.gif"
      ffmpeg -nostdin -loglevel error -y -loop 1 -framerate "$fps" -t "$secs" -i "$photo" -vf "$pan" \
        -an -c:v libx264 -pix_fmt yuv420p -movflags +faststart "$CORPUS/mp4/m$i.mp4"
      i=$((i + 1))
    done
  done
  touch "$CORPUS/.done"
fi
for kind in gif mp4; do
  echo "$kind: $(find "$CORPUS/$kind" -type f | wc -l) files, $(du -sh "$CORPUS/$kind" | cut -f1)"
done

declare -A WALL CPU
rss() { awk '{print $4}' "$OUT/time.txt"; }
run_timed() {  # KEY DEST CMD... (like time_run, also keeps the peak RSS of the best run)
  local key=$1 dest=$2 e u s m
  shift 2
  rm -rf "$dest"; mkdir -p "$dest"
  /usr/bin/time -f '%e %U %S %M' -o "$OUT/time.txt" "$@" >>"$LOG" 2>&1 \
    || { echo "FAILED: $key (see $LOG)" >&2; tail -n 20 "$LOG" >&2; exit 1; }
  read -r e u s m <"$OUT/time.txt"
  if [ -z "${WALL[$key]:-}" ] || awk -v t="$e" -v b="${WALL[$key]}" 'BEGIN { exit !(t < b) }'; then
    WALL[$key]=$e
    CPU[$key]=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    RSS[$key]=$m
  fi
}
declare -A RSS
for mode in gif2mp4 thumbs; do
  dir=$CORPUS/gif; [ "$mode" = thumbs ] && dir=$CORPUS/mp4
  for _ in $(seq "$REPEAT"); do
    run_timed "ours_$mode" "$OUT/ours_$mode" "$BIN/mediaworker-bench" animations "$mode" "$dir" --threads 2 --repeat 1 \
      --quiet --out "$OUT/ours_$mode"
    run_timed "ffmpeg_$mode" "$OUT/ffmpeg_$mode" bash -c \
      "find '$dir' -type f ! -name '.*' -print0 | sort -z | xargs -0 -P 2 -n 1 bash '$SELF' --peer $mode '$OUT/ffmpeg_$mode'"
  done
done

echo
printf '%-28s %10s %10s %10s %12s\n' "work (same files)" "ours s" "ffmpeg s" "speed-up" "peak RSS MB"
for mode in gif2mp4 thumbs; do
  n=$(find "$CORPUS/$([ "$mode" = thumbs ] && echo mp4 || echo gif)" -type f ! -name '.*' | wc -l)
  label="GIF -> MP4 ($n GIFs)"; [ "$mode" = thumbs ] && label="MP4 thumbnails ($n MP4s)"
  printf '%-28s %10s %10s %9sx %5s / %-5s\n' "$label" "${WALL[ours_$mode]}" "${WALL[ffmpeg_$mode]}" \
    "$(awk -v a="${WALL[ours_$mode]}" -v b="${WALL[ffmpeg_$mode]}" 'BEGIN { printf "%.2f", b / a }')" \
    "$((RSS[ours_$mode] / 1024))" "$((RSS[ffmpeg_$mode] / 1024))"
done
echo "(peak RSS: ours = the whole bench process; ffmpeg = the largest single ffmpeg process)"
