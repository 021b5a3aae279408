#!/usr/bin/python3
"""Build the voice-note benchmark corpus (Benchmarks/voice.sh).

    /usr/bin/python3 Benchmarks/corpus/bench_voice_corpus.py [--out bench-out]

Makes, deterministically (fixed texts, voices, seeds and Ogg serials; same package versions -> same bytes):

  bench-out/voice/corpus/          the voice-note fixtures fixtures.json lists as accepted from a visitor
                                   (Ogg/Opus, Ogg Vorbis, MP3), each file once, copied as they are
  bench-out/voice/long_5m30s.ogg   a WhatsApp-like note of 5:30 (330 s): espeak-ng speech (customer-support
                                   sentences, several voices and speeds, 0.4-1.2 s pauses) with quiet pink
                                   "room" noise (-50 dBFS) under it, 16 kHz mono -> `opusenc --bitrate 16`
  bench-out/voice/long_29m30s.ogg  the same kind of note, 29:30 (1770 s): just under the 30-minute limit, for
                                   the peak-RSS figure
  bench-out/voice/corpus.txt       what each file is, its exact length in samples, and where it came from

Speech is made once (about 3 minutes of distinct sentences) and repeated to the target length, then cut to
an exact number of samples, so every length is exact in ms (opusenc keeps the input length).
Needs espeak-ng, sox and opus-tools. Rebuilt only when this script changes (bench-out/voice/.stamp).
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

RATE = 16000
LONG_NOTES = [("long_5m30s.ogg", 330, "20261201"), ("long_29m30s.ogg", 1770, "20261202")]
VOICES = [("en-us", 160), ("en-gb", 150), ("en-us+f3", 170), ("en-gb-scotland", 155), ("en-us+m3", 175),
          ("en-029", 150)]
LINES = [
    "Hi, I ordered a blue jacket last week and it still has not arrived.",
    "Could you please check the tracking number for me?",
    "The parcel says delivered, but there is nothing at my door, and my neighbours did not take it either.",
    "I was charged twice for the same order. Can you refund one of the payments?",
    "My account is locked since I tried to reset the password this morning.",
    "The size is too small, so I would like to exchange it for a large one, if that is still possible.",
    "Can I change the delivery address to my office on Baker Street?",
    "The screen of the phone was cracked when I opened the box, I have pictures of the packaging too.",
    "I will send you a photo of the receipt in a minute.",
    "Please call me back after five o'clock, I am at work until then.",
    "My order number is four seven one one, and the postcode is one zero one one five.",
    "The discount code from your newsletter does not work at the checkout.",
    "Is it possible to pay by bank transfer instead of credit card?",
    "So what happened is, I placed the order on Monday evening, and on Tuesday I got an email saying it was "
    "cancelled, but the money is still gone from my account.",
    "I tried calling your hotline three times yesterday, but nobody picked up, so I am sending a voice message.",
    "Thank you very much for your help, have a nice day.",
]


def run(*cmd):
    subprocess.run([str(c) for c in cmd], check=True)


def samples(path):
    return int(subprocess.run(["soxi", "-s", path], check=True, capture_output=True, text=True).stdout.strip())


def speech_base(tmp):
    """About 3 minutes of distinct speech: every line in two voices, shuffled with a fixed seed."""
    rng = random.Random(20261201)
    pieces = []
    for i, line in enumerate(LINES):
        for k in range(2):
            voice, speed = VOICES[(i + 3 * k) % len(VOICES)]
            pieces.append((line, voice, speed + rng.randint(-10, 10)))
    rng.shuffle(pieces)
    parts = []
    for n, (line, voice, speed) in enumerate(pieces):
        raw = os.path.join(tmp, f"s{n}.raw.wav")
        wav = os.path.join(tmp, f"s{n}.wav")
        run("espeak-ng", "-v", voice, "-s", speed, "-w", raw, line)
        # 16 kHz mono 16-bit, trailing silence trimmed, a level that varies a little between sentences.
        run("sox", "-D", "-v", f"{0.55 + 0.3 * rng.random():.3f}", raw, "-r", RATE, "-c", "1", "-b", "16", wav,
            "reverse", "silence", "1", "0.02", "0.5%", "reverse")
        gap = os.path.join(tmp, f"g{n}.wav")
        run("sox", "-D", "-n", "-r", RATE, "-c", "1", "-b", "16", gap, "trim", "0", f"{0.4 + 0.8 * rng.random():.2f}")
        parts += [wav, gap]
    base = os.path.join(tmp, "base.wav")
    run("sox", "-D", *parts, base)
    return base


def long_note(tmp, base, name, seconds, serial, out):
    want = seconds * RATE
    have = samples(base)
    repeats = -(-want // have)  # ceil
    looped = os.path.join(tmp, name + ".speech.wav")
    run("sox", "-D", base, looped, "repeat", repeats - 1, "trim", "0", f"{want}s")
    noise = os.path.join(tmp, name + ".noise.wav")
    run("sox", "-D", "-R", "-n", "-r", RATE, "-c", "1", "-b", "16", noise, "synth", f"{want}s", "pinknoise", "vol", "0.003")
    mixed = os.path.join(tmp, name + ".wav")
    run("sox", "-D", "-m", looped, noise, mixed)
    assert samples(mixed) == want, (name, samples(mixed), want)
    run("opusenc", "--quiet", "--serial", serial, "--bitrate", "16", "--comp", "10", "--framesize", "20",
        mixed, os.path.join(out, name))
    return want


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="bench-out")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))  # Benchmarks/corpus -> the repository
    out = os.path.join(os.path.abspath(args.out), "voice")
    stamp_path = os.path.join(out, ".stamp")
    manifest = os.path.join(root, "Fixtures", "fixtures.json")
    digest = hashlib.sha256(open(__file__, "rb").read() + open(manifest, "rb").read()).hexdigest()
    if os.path.exists(stamp_path) and open(stamp_path).read().strip() == digest \
            and all(os.path.exists(os.path.join(out, n)) for n, _, _ in LONG_NOTES):
        print(f"voice corpus up to date in {out}")
        return

    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "corpus"))
    notes = []
    seen = set()
    for f in json.load(open(manifest))["fixtures"]:
        e = f["expect"]
        if f.get("from") == "visitor" and e.get("status") == "accepted" and e.get("kind") == "voice_note" \
                and "derive" not in f and f["file"] not in seen:
            seen.add(f["file"])
            shutil.copyfile(os.path.join(root, "Fixtures", f["file"]), os.path.join(out, "corpus", os.path.basename(f["file"])))
            notes.append(f"corpus/{os.path.basename(f['file'])}: fixture {f['id']}, {e['playback']['durationMs']} ms")
    with tempfile.TemporaryDirectory() as tmp:
        base = speech_base(tmp)
        base_s = samples(base) / RATE
        for name, seconds, serial in LONG_NOTES:
            n = long_note(tmp, base, name, seconds, serial, out)
            notes.append(f"{name}: {n} samples at {RATE} Hz = {n * 1000 // RATE} ms; espeak-ng speech "
                         f"({base_s:.1f} s of distinct sentences, repeated) + pink noise at -50 dBFS, "
                         f"opusenc --bitrate 16 --serial {serial}")
    with open(os.path.join(out, "corpus.txt"), "w") as fh:
        fh.write("\n".join(notes) + "\n")
    with open(stamp_path, "w") as fh:
        fh.write(digest + "\n")
    print(f"voice corpus: {len(seen)} fixtures + {len(LONG_NOTES)} long notes in {out}")


if __name__ == "__main__":
    sys.exit(main())
