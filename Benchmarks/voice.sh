#!/usr/bin/env bash
# Voice-note benchmark (`make bench`): mediaworker's pipeline next to ffmpeg on the same notes with the same
# output (mono MP3, 24 kHz, libmp3lame VBR -q:a 6, libmp3lame algorithm quality 5 = MEDIAWORKER_MP3_QUALITY's
# default), then a single note of 5:30 alone, then the peak RSS of `mediaworker process` on a 29:30 note.
# It prints figures; it never fails on a slow result (only on a broken run).
#
#   Benchmarks/voice.sh                  # everything (about 3-4 minutes on 2 cores)
#   BENCH_REPEAT=9 Benchmarks/voice.sh   # more rounds
#
# Peers, as the issue states them: ffmpeg run once per file, serially (one process per note):
#   like for like: ffmpeg -nostdin -loglevel error -y -i IN -ac 1 -ar 24000 -c:a libmp3lame -q:a 6 -compression_level 5 OUT.mp3
#   ffmpeg default: the same without -compression_level (libmp3lame's own default algorithm quality)
# Ours: `mediaworker-bench voice` (MediaPipeline.process in one process, files read and MP3s written inside
# the timed region) with BENCH_THREADS (default: cores) OS threads, and with 1 thread; loudness
# normalisation on (the default; a lossless global-gain change after encoding, ffmpeg does none).
# Note: the pipeline encodes on a second thread per note (decode and encode overlap), so "1 thread" can keep
# more than one core busy; the CPU columns (user + system, GNU time or getrusage) show what each really used.
#
# Steps: install missing tools (apt-get; sudo when not root) -> swift build -c release (mediaworker,
# mediaworker-bench) -> corpus (Benchmarks/corpus/bench_voice_corpus.py, cached in bench-out/voice) -> BENCH_REPEAT (5)
# interleaved rounds of every tool, best wall time each -> table -> single note rounds -> RSS -> durations
# (ffprobe). Outputs land in bench-out/voice (git-ignored); tool stderr goes to bench-out/voice/bench.log.
set -euo pipefail
# Internal mode: the ffmpeg peer (one ffmpeg per file, serial) as one command GNU time can time.
if [ "${1:-}" = --ffmpeg-loop ]; then
  dest=$2 mode=$3
  shift 3
  extra=()
  [ "$mode" = like ] && extra=(-compression_level 5)
  for f in "$@"; do
    ffmpeg -nostdin -loglevel error -y -i "$f" -ac 1 -ar 24000 -c:a libmp3lame -q:a 6 "${extra[@]}" "$dest/$(basename "$f").mp3"
  done
  exit 0
fi
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
bench_out voice
REPEAT=${BENCH_REPEAT:-5}
THREADS=${BENCH_THREADS:-$(nproc)}
PY=/usr/bin/python3

# ------------------------------------------------------------------------------------------- tools
missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v opusenc >/dev/null || missing+=(opus-tools)
command -v sox >/dev/null || missing+=(sox)
[ -x /usr/bin/time ] || missing+=(time)
add_missing_debs libopusfile-dev libvorbis-dev libmpg123-dev libmp3lame-dev libvips-dev libmagic-dev libsqlite3-dev
install_missing "${missing[@]}"

# ------------------------------------------------------------------------------------------- build + corpus
build_release mediaworker-bench mediaworker
echo "== corpus"
$PY Benchmarks/corpus/bench_voice_corpus.py --out "$ROOT/bench-out" | tail -n 1

CORPUS=$OUT/corpus
mapfile -t FILES < <(find "$CORPUS" -type f ! -name '.*' | sort)
N=${#FILES[@]}
LONG=$OUT/long_5m30s.ogg
RSSNOTE=$OUT/long_29m30s.ogg
MP3=$OUT/mp3

declare -A WALL CPU AUDIO
# ours_run KEY PATH THREADS [args]: one mediaworker-bench voice run (--repeat 1); its in-process figures go
# to WALL/CPU[KEY], the whole process (start-up included, under GNU time) to WALL/CPU[KEY_process].
ours_run() {
  local key=$1 path=$2 threads=$3 line w c
  shift 3
  time_run "${key}_process" "$MP3/$key" "$BIN/mediaworker-bench" voice "$path" --threads "$threads" --repeat 1 --quiet \
    --list --out "$MP3/$key" "$@"
  line=$(grep '^RESULT ours_seconds=' "$LOG" | tail -n 1)
  w=$(sed 's/.*ours_seconds=\([0-9.]*\).*/\1/' <<<"$line")
  c=$(sed 's/.*cpu_seconds=\([0-9.]*\).*/\1/' <<<"$line")
  AUDIO[$key]=$(sed 's/.*audio_seconds=\([0-9.]*\).*/\1/' <<<"$line")
  if [ -z "${WALL[$key]:-}" ] || awk -v t="$w" -v b="${WALL[$key]}" 'BEGIN { exit !(t < b) }'; then
    WALL[$key]=$w
    CPU[$key]=$(awk -v c="$c" 'BEGIN { printf "%.2f", c }')
  fi
}
kbps() { # DIR AUDIO_SECONDS: average bit rate of the MP3s in DIR
  local bytes
  bytes=$(find "$1" -name '*.mp3' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
  awk -v b="$bytes" -v a="$2" 'BEGIN { printf "%.1f", b * 8 / a / 1000 }'
}

echo "== versions"
echo "cores: $(nproc); threads for ours: $THREADS; best of $REPEAT"
echo "$(ffmpeg -version | head -n 1 | cut -d' ' -f1-3); libmp3lame $(dpkg-query -W -f='${Version}' libmp3lame0)," \
  "libopus $(dpkg-query -W -f='${Version}' libopus0), libopusfile $(dpkg-query -W -f='${Version}' libopusfile0)," \
  "libmpg123 $(dpkg-query -W -f='${Version}' libmpg123-0)"
echo "corpus: $N voice-note fixtures ($(du -sh --apparent-size "$CORPUS" | cut -f1)): $(cd "$CORPUS" && ls | tr '\n' ' ')"

# ------------------------------------------------------------------------------------------- throughput
# Rounds: every tool runs once per round, REPEAT rounds, best wall time per tool. Interleaving spreads any
# load from other processes over all tools instead of punishing whichever ran during it.
echo "== throughput: $N notes, best of $REPEAT interleaved rounds; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$REPEAT"); do
  ours_run ours "$CORPUS" "$THREADS"
  time_run ff_like "$MP3/ff_like" "$SELF" --ffmpeg-loop "$MP3/ff_like" like "${FILES[@]}"
  ours_run ours1 "$CORPUS" 1
  time_run ff_default "$MP3/ff_default" "$SELF" --ffmpeg-loop "$MP3/ff_default" default "${FILES[@]}"
  echo "  round $round: ours ${WALL[ours]} s, ours 1 thread ${WALL[ours1]} s, ffmpeg like-for-like ${WALL[ff_like]} s," \
    "ffmpeg default ${WALL[ff_default]} s (best so far)"
done
grep '^NOTE ' "$LOG" | tail -n "$N" >"$OUT/notes.txt"   # per-note durationMs, for the duration check
A=${AUDIO[ours]}
declare -A KBPS
for k in ours ff_like ff_default; do KBPS[$k]=$(kbps "$MP3/$k" "$A"); done
KBPS[ours1]=${KBPS[ours]}
KBPS[ours_process]=${KBPS[ours]}

# row LABEL KEY THREADS REF TARGET: wall, realtime factors, ratio = KEY's wall / REF's wall for the peers.
row() {
  awk -v l="$1" -v s="${WALL[$2]}" -v c="${CPU[$2]}" -v th="$3" -v o="${WALL[$4]}" -v oc="${CPU[$4]}" -v a="$A" \
    -v k="${KBPS[$2]:--}" -v t="$5" -v key="$2" 'BEGIN {
    r = s / o
    verdict = (t == "") ? "" : (r >= t ? sprintf("target >= %gx: met", t) : sprintf("target >= %gx: MISSED by %.0f%%", t, 100 * (1 - r / t)))
    ratio = (key ~ /^ours/) ? "-" : sprintf("%.2fx", r)
    cratio = (key ~ /^ours/) ? "-" : sprintf("%.2fx", c / oc)
    printf "%-50s %7.3f %8.1f %8.1f %8.1f %6.2f %7s %7s %6s  %s\n", l, s, a / s, a / (s * th), a / c, c, ratio, cratio, k, verdict }'
}
HDR=$(printf '%-50s %7s %8s %8s %8s %6s %7s %7s %6s' "tool" "wall s" "x RT" "RT/core" "RT/CPU-s" "CPU s" "ratio" "CPU rat" "kbps")
echo "$HDR"
row "ours: mediaworker-bench, $THREADS threads (in-process)" ours "$THREADS" ours ""
row "ours, whole process incl. start-up" ours_process "$THREADS" ours ""
row "ours: 1 thread (in-process)" ours1 1 ours ""
row "ffmpeg like-for-like (-compression_level 5), serial" ff_like 1 ours 3
row "ffmpeg defaults (no -compression_level), serial" ff_default 1 ours ""
echo "per core (ours on 1 thread vs the same serial ffmpeg runs):"
row "ffmpeg like-for-like vs ours 1 thread" ff_like 1 ours1 ""
row "ffmpeg defaults vs ours 1 thread" ff_default 1 ours1 ""
echo "audio: $A s over $N notes. x RT = audio s / wall s; RT/core = audio s / (wall s x threads; ffmpeg: 1);"
echo "RT/CPU-s = audio s / (user+system CPU s). ratio = ffmpeg wall / ours wall (above 1: ours is faster)."
echo "kbps = average MP3 bit rate (same encoder settings -> should be close; ours adds no ID3 tag)."
for key in ff_like ff_default; do
  awk -v k="$key" -v s="${WALL[$key]}" -v o="${WALL[ours]}" -v o1="${WALL[ours1]}" -v p="${WALL[ours_process]}" \
    'BEGIN { printf "RESULT ratio_%s=%.2f ratio_%s_vs_whole_process=%.2f ratio_%s_vs_1_thread=%.2f\n", k, s / o, k, s / p, k, s / o1 }'
done
awk -v a="$A" -v o="${WALL[ours]}" -v t="$THREADS" -v o1="${WALL[ours1]}" \
  'BEGIN { printf "RESULT realtime_per_core=%.1f realtime_per_core_1_thread=%.1f\n", a / (o * t), a / o1 }'

# ------------------------------------------------------------------------------------------- single note
echo "== single note alone: $(basename "$LONG") ($(sed -n 's/.*long_5m30s.ogg: [0-9]* samples at 16000 Hz = \([0-9]*\) ms.*/\1/p' "$OUT/corpus.txt") ms), best of $REPEAT interleaved rounds"
for round in $(seq "$REPEAT"); do
  ours_run long_ours "$LONG" 1
  time_run long_process "$MP3/long_process" "$BIN/mediaworker" process "$LONG" --out "$MP3/long_process"
  grep -q '"status":"accepted".*"role":"playback"' <(tail -n 1 "$LOG") || { echo "FAILED: mediaworker process $LONG" >&2; exit 1; }
  time_run long_ff_like "$MP3/long_ff_like" "$SELF" --ffmpeg-loop "$MP3/long_ff_like" like "$LONG"
  time_run long_ff_default "$MP3/long_ff_default" "$SELF" --ffmpeg-loop "$MP3/long_ff_default" default "$LONG"
done
grep '^NOTE .*long_5m30s' "$LOG" | tail -n 1 >>"$OUT/notes.txt"
A=${AUDIO[long_ours]}
KBPS[long_ours]=$(kbps "$MP3/long_ours" "$A")
KBPS[long_process]=$(kbps "$MP3/long_process" "$A")
KBPS[long_ff_like]=$(kbps "$MP3/long_ff_like" "$A")
KBPS[long_ff_default]=$(kbps "$MP3/long_ff_default" "$A")
echo "$HDR"
row "ours: mediaworker-bench, 1 thread (in-process)" long_ours 1 long_ours ""
row "ours: mediaworker process (whole process)" long_process 1 long_ours ""
row "ffmpeg like-for-like, one run" long_ff_like 1 long_ours 1.5
row "ffmpeg defaults, one run" long_ff_default 1 long_ours ""
echo "against the whole \`mediaworker process\` run (start-up, reading, writing the original and the MP3):"
row "ffmpeg like-for-like vs mediaworker process" long_ff_like 1 long_process 1.5
row "ffmpeg defaults vs mediaworker process" long_ff_default 1 long_process ""
echo "(ours decodes and encodes one note on two threads: see the CPU columns; RT/core counts it as one thread)"
for key in long_ff_like long_ff_default; do
  awk -v k="$key" -v s="${WALL[$key]}" -v o="${WALL[long_ours]}" -v p="${WALL[long_process]}" \
    'BEGIN { printf "RESULT ratio_%s=%.2f ratio_%s_vs_mediaworker_process=%.2f\n", k, s / o, k, s / p }'
done

# ------------------------------------------------------------------------------------------- peak RSS
echo "== peak RSS (GNU time %M) converting $(basename "$RSSNOTE") (29:30, $(stat -c %s "$RSSNOTE") bytes), target <= 60 MB"
printf '%-58s %9s %8s %8s\n' command "RSS MB" "wall s" "CPU s"
rss_row() { # LABEL CMD...
  local label=$1 kb e u s
  shift
  rm -rf "$OUT/rss-out"
  mkdir -p "$OUT/rss-out"
  /usr/bin/time -f '%M %e %U %S' -o "$OUT/rss.txt" "$@" >"$OUT/rss-stdout.txt" 2>>"$LOG" || { echo "FAILED: $label" >&2; exit 1; }
  cat "$OUT/rss-stdout.txt" >>"$LOG"
  read -r kb e u s <"$OUT/rss.txt"
  awk -v l="$label" -v kb="$kb" -v e="$e" -v c="$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')" \
    'BEGIN { printf "%-58s %9.1f %8.2f %8.2f\n", l, kb * 1024 / 1e6, e, c }'
  echo "RESULT rss_kb_$(tr -c 'a-z0-9\n' _ <<<"$label" | tr -s _)=$kb" >>"$LOG"
  RSS_KB=$kb
}
rss_row "mediaworker process long_29m30s.ogg" "$BIN/mediaworker" process "$RSSNOTE" --out "$OUT/rss-out"
grep -q '"status":"accepted".*"role":"playback"' "$OUT/rss-stdout.txt" || { echo "FAILED: mediaworker process $RSSNOTE" >&2; exit 1; }
# Its MP3 joins the duration check below.
cp "$OUT/rss-out/playback.mp3" "$OUT/long_29m30s.playback.mp3"
OURS_RSS=$RSS_KB
rss_row "mediaworker process voice_note_1s.ogg (baseline)" "$BIN/mediaworker" process "$CORPUS/voice_note_1s.ogg" --out "$OUT/rss-out"
rss_row "mediaworker --help (no pipeline)" "$BIN/mediaworker" --help
rss_row "ffmpeg like-for-like long_29m30s.ogg (reference)" "$SELF" --ffmpeg-loop "$OUT/rss-out" like "$RSSNOTE"
awk -v kb="$OURS_RSS" 'BEGIN { mb = kb * 1024 / 1e6; printf "ours on the 29:30 note: %.1f MB: %s\n", mb,
  (mb <= 60 ? "target <= 60 MB: met" : sprintf("target <= 60 MB: MISSED by %.1f MB (%.0f%%)", mb - 60, 100 * (mb - 60) / 60)) }'
echo "(MB = 10^6 bytes; GNU time reports KiB)"
echo "RESULT rss_kb_29m30s=$OURS_RSS"

# ------------------------------------------------------------------------------------------- durations
# Every MP3 (ours from the last 2-thread run, ffmpeg's like-for-like) against the source's decoded length
# (the durationMs the pipeline reported; for the fixtures also checked against fixtures.json, for the long
# notes against corpus.txt), two ways: ffprobe's format duration (what a player that ignores the LAME tag's
# encoder delay/padding shows: it includes them), and the gapless length ffmpeg decodes (samples / 24 kHz,
# encoder delay and padding removed as the LAME tag says).
echo "== durations: the MP3s vs the source (decoded length), ffprobe and gapless decode"
$PY - "$OUT/notes.txt" "$MP3" "$ROOT/Fixtures/fixtures.json" "$OUT/corpus.txt" "$OUT/long_29m30s.playback.mp3" \
  "$OUT/rss-out/long_29m30s.ogg.mp3" <<'EOF'
import json, os, re, subprocess, sys
notes, mp3, manifest, corpus_txt, rss_ours, rss_ff = sys.argv[1:]
def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
                         check=True, capture_output=True, text=True).stdout.strip()
    return float(out) * 1000
def decoded(path):
    pcm = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "s16le", "-ac", "1", "-ar", "24000", "-"],
                         check=True, capture_output=True).stdout
    return len(pcm) / 2 / 24000 * 1000
expected = {}
for f in json.load(open(manifest))["fixtures"]:
    pb = f["expect"].get("playback")
    if pb: expected[os.path.basename(f["file"])] = pb["durationMs"]
for line in open(corpus_txt):
    m = re.match(r"(long_\w+\.ogg): \d+ samples at \d+ Hz = (\d+) ms", line)
    if m: expected[m.group(1)] = int(m.group(2))
items, bad = [], []
for line in open(notes):
    m = re.match(r"NOTE (\S+) duration_ms=(\d+)", line)
    path, ms = m.group(1), int(m.group(2))
    name = os.path.basename(path)
    if name in expected and expected[name] != ms:
        bad.append(f"{name}: pipeline says {ms} ms, expected {expected[name]}")
    sub = ("long_ours", "long_ff_like") if name.startswith("long_") else ("ours", "ff_like")
    items.append((name, ms, f"{mp3}/{sub[0]}/{name}.mp3", f"{mp3}/{sub[1]}/{name}.mp3"))
# The 29:30 note from the RSS runs (mediaworker process, and ffmpeg like-for-like).
items.append(("long_29m30s.ogg", expected["long_29m30s.ogg"], rss_ours, rss_ff))
worst = {k: (0, "") for k in ("probe", "dec", "ff_probe", "ff_dec")}
print(f"{'note':<22} {'source ms':>10} | {'ours: ffprobe':>13} {'decoded':>10} | {'ffmpeg: ffprobe':>15} {'decoded':>10}")
for name, ms, ours, ff in items:
    v = {"probe": probe(ours) - ms, "dec": decoded(ours) - ms, "ff_probe": probe(ff) - ms, "ff_dec": decoded(ff) - ms}
    for k in v: worst[k] = max(worst[k], (abs(v[k]), name))
    print(f"{name:<22} {ms:>10} | {v['probe']:>+13.1f} {v['dec']:>+10.2f} | {v['ff_probe']:>+15.1f} {v['ff_dec']:>+10.2f}")
print("(differences from the source in ms)")
print(f"max |ours - source|: {worst['dec'][0]:.2f} ms decoded gapless ({worst['dec'][1]}), "
      f"{worst['probe'][0]:.1f} ms by ffprobe's format duration ({worst['probe'][1]})")
print(f"ffmpeg like-for-like:  {worst['ff_dec'][0]:.2f} ms decoded gapless, {worst['ff_probe'][0]:.1f} ms by ffprobe")
print(f"RESULT max_duration_error_ms_decoded={worst['dec'][0]:.2f} max_duration_error_ms_ffprobe={worst['probe'][0]:.1f} "
      f"ffmpeg_max_duration_error_ms_decoded={worst['ff_dec'][0]:.2f} ffmpeg_max_duration_error_ms_ffprobe={worst['ff_probe'][0]:.1f}")
if bad:
    sys.exit("durationMs mismatch: " + "; ".join(bad))
EOF
