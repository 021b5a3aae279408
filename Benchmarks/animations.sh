#!/usr/bin/env bash
# Animation benchmark (`make bench`): mediaworker's pipeline next to the ffmpeg CLI doing the same work on the
# same files. It prints figures; it never fails on a slow result (only on a broken run).
#
#   Benchmarks/animations.sh                 # about 2 minutes on 2 cores
#   BENCH_REPEAT=5 Benchmarks/animations.sh  # more rounds
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
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
bench_out animations
REPEAT=${BENCH_REPEAT:-3}

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
# The same GIFs split by size: under 1 MB (what desks mostly send) and the rest, each timed on its own.
rm -rf "$CORPUS/gif-small" "$CORPUS/gif-large"; mkdir -p "$CORPUS/gif-small" "$CORPUS/gif-large"
for f in "$CORPUS"/gif/*.gif; do
  if [ "$(stat -c %s "$f")" -lt 1000000 ]; then ln "$f" "$CORPUS/gif-small/"; else ln "$f" "$CORPUS/gif-large/"; fi
done
for kind in gif gif-small gif-large mp4; do
  echo "$kind: $(find "$CORPUS/$kind" \( -type f -o -type l \) | wc -l) files, $(du -shL "$CORPUS/$kind" | cut -f1)"
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
declare -A RSS INSIDE
# KEY MODE FOLDER: one interleaved round of ours and the peer on the files of FOLDER.
round() {
  local key=$1 mode=$2 dir=$3
  run_timed "ours_$key" "$OUT/ours_$key" "$BIN/mediaworker-bench" animations "$mode" "$dir" --threads 2 --repeat 1 \
    --quiet --out "$OUT/ours_$key"
  local inside
  inside=$(grep '^RESULT ours_seconds=' "$LOG" | tail -n 1 | sed 's/.*ours_seconds=\([0-9.]*\).*/\1/')
  if [ -z "${INSIDE[$key]:-}" ] || awk -v t="$inside" -v b="${INSIDE[$key]}" 'BEGIN { exit !(t < b) }'; then
    INSIDE[$key]=$inside
  fi
  run_timed "ffmpeg_$key" "$OUT/ffmpeg_$key" bash -c \
    "find -L '$dir' -type f ! -name '.*' -print0 | sort -z | xargs -0 -P 2 -n 1 bash '$SELF' --peer $mode '$OUT/ffmpeg_$key'"
}
for _ in $(seq "$REPEAT"); do
  round gif2mp4 gif2mp4 "$CORPUS/gif"
  round small gif2mp4 "$CORPUS/gif-small"
  round large gif2mp4 "$CORPUS/gif-large"
  round thumbs thumbs "$CORPUS/mp4"
done

echo
printf '%-28s %10s %10s %10s %12s %14s\n' "work (same files)" "ours s" "ffmpeg s" "speed-up" "peak RSS MB" "in-process"
for key in gif2mp4 small large thumbs; do
  case $key in
    gif2mp4) dir=gif label="GIF -> MP4, all" ;;
    small) dir=gif-small label="GIF -> MP4, < 1 MB" ;;
    large) dir=gif-large label="GIF -> MP4, >= 1 MB" ;;
    thumbs) dir=mp4 label="MP4 thumbnails" ;;
  esac
  n=$(find -L "$CORPUS/$dir" -type f ! -name '.*' | wc -l)
  printf '%-28s %10s %10s %9sx %5s / %-5s %7s s %5sx\n' "$label ($n)" "${WALL[ours_$key]}" "${WALL[ffmpeg_$key]}" \
    "$(awk -v a="${WALL[ours_$key]}" -v b="${WALL[ffmpeg_$key]}" 'BEGIN { printf "%.2f", b / a }')" \
    "$((RSS[ours_$key] / 1024))" "$((RSS[ffmpeg_$key] / 1024))" "${INSIDE[$key]}" \
    "$(awk -v a="${INSIDE[$key]}" -v b="${WALL[ffmpeg_$key]}" 'BEGIN { printf "%.2f", b / a }')"
done
echo "(ours s: the whole bench process, its start included (libmagic database, libvips); in-process: the same run"
echo " timed inside, as a running service sees it. Peak RSS: ours = the bench process; ffmpeg = the largest ffmpeg)"
