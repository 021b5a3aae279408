#!/usr/bin/python3
"""Animations, stickers and operator delivery cases (issue #12) for Fixtures/fixtures.json.

Run from anywhere, AFTER make_fixtures.py (which rewrites fixtures.json from scratch):

    /usr/bin/python3 Fixtures/make_animations.py

Makes Fixtures/animations/ and Fixtures/stickers/ from real material (pans and crops of the photos in Debian's
mate-backgrounds, espeak-ng speech) and merges its entries into fixtures.json: entries with the same id are
replaced in place, new ones appended, existing operator cases get an `expect.delivery`; everything else is kept
as it is (2-space indent, like make_fixtures.py writes it).

Needs (Debian bookworm): ffmpeg (libx264, native AAC, gif), webp (cwebp, img2webp, webpinfo), libvips-tools
(vips), espeak-ng, file. No PIL. Source photos as in make_fixtures.py: /tmp/wall or MW_WALLPAPER_ROOT, else
`apt-get download mate-backgrounds` + `dpkg -x` into a temporary folder.

Deterministic with the same package versions: every encoder runs single-threaded with ffmpeg's bitexact flags
and no metadata; GIF frame delays are written into the Graphic Control Extensions by this script.
"""

import atexit
import importlib.util
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from fixture_common import HERE, out, run, wallpaper_root  # shared with the other generator
MAX_THUMB = 480
STICKER_STATIC_MAX = 100 * 1024
STICKER_ANIMATED_MAX = 500 * 1024

spec = importlib.util.spec_from_file_location(
    "whatsapp_delivery_check", os.path.join(HERE, "..", "Tests", "checks", "whatsapp_delivery_check.py"))
delivery_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(delivery_check)

entries = []          # new manifest entries, in order
deliveries = {}       # existing id -> delivery expectation to add


# --------------------------------------------------------------------------- helpers

FF = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", "-filter_threads", "1"]
# after the inputs: one thread, no metadata, no version strings in the container or the streams' headers
FF_OUT = ["-threads", "1", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
          "-flags:a", "+bitexact"]
X264 = ["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-profile:v", "main"]


def libmagic(rel):
    return subprocess.run(["file", "--mime-type", "-b", os.path.join(HERE, rel)],
                          check=True, capture_output=True, text=True).stdout.strip()


def ffprobe(rel):
    r = run("ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
            os.path.join(HERE, rel), capture_output=True, text=True)
    return json.loads(r.stdout)


def ms(seconds):
    """Seconds → ms, rounded half away from zero (Swift's rounded())."""
    return int(math.floor(float(seconds) * 1000 + 0.5))


def thumb(w, h, alpha=False):
    s = min(1.0, MAX_THUMB / max(w, h))
    return {"width": int(math.floor(w * s + 0.5)), "height": int(math.floor(h * s + 0.5)), "hasAlpha": alpha}


def add(id, rel, description, expect, frm="visitor", declared=None, name=None):
    """Same shape and key order as make_fixtures.add(); detectedType is what libmagic says, checked."""
    e = dict(expect)
    det = libmagic(rel)
    if e.get("detectedType", det) != det:
        sys.exit(f"{id}: libmagic says {det}, expected {e['detectedType']}")
    e["detectedType"] = det
    ordered = {"status": e.pop("status")}
    if "reason" in e:
        ordered["reason"] = e.pop("reason")
    ordered["detectedType"] = e.pop("detectedType")
    ordered.update(e)
    entries.append({"id": id, "file": rel, "description": description, "from": frm,
                    "declaredType": declared, "fileName": name, "expect": ordered})


def rejected(reason, detected):
    return {"status": "rejected", "reason": reason, "detectedType": detected}


def check_delivery_rules(rel, send_as, should_pass):
    """sameBytes true needs a file that already meets WhatsApp's rules; sameBytes false one that does not."""
    ok, problems, _ = delivery_check.check(os.path.join(HERE, rel), send_as)
    if ok != should_pass:
        sys.exit(f"{rel}: the delivery checker says ok={ok} {problems}, expected ok={should_pass}")


# --------------------------------------------------------------------------- GIF

def gif_frames(data):
    """Walk a GIF: (logical width, height, [per-frame dict(delay_cs, gce_offset, transparent)])."""
    assert data[:6] in (b"GIF87a", b"GIF89a"), data[:6]
    w, h, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    frames, gce = [], None
    while True:
        b = data[pos]
        if b == 0x3B:
            break
        if b == 0x21:
            label = data[pos + 1]
            if label == 0xF9:
                assert data[pos + 2] == 4
                gce = {"offset": pos, "delay": struct.unpack_from("<H", data, pos + 4)[0],
                       "transparent": bool(data[pos + 3] & 1)}
            pos += 2
            while data[pos]:
                pos += 1 + data[pos]
            pos += 1
        elif b == 0x2C:
            lflags = data[pos + 9]
            pos += 10 + (3 * 2 ** ((lflags & 7) + 1) if lflags & 0x80 else 0)
            pos += 1                                  # LZW minimum code size
            while data[pos]:
                pos += 1 + data[pos]
            pos += 1
            frames.append(gce or {"offset": None, "delay": 0, "transparent": False})
            gce = None
        else:
            raise ValueError(f"unexpected GIF block 0x{b:02x} at {pos}")
    return w, h, frames


def set_gif_delays(path, delays_cs):
    data = bytearray(open(path, "rb").read())
    _, _, frames = gif_frames(bytes(data))
    assert len(frames) == len(delays_cs), (len(frames), len(delays_cs))
    for f, d in zip(frames, delays_cs):
        assert f["offset"] is not None, "a frame without a Graphic Control Extension"
        struct.pack_into("<H", data, f["offset"] + 4, d)
    open(path, "wb").write(bytes(data))


def make_gif(frame_pattern, framerate, rel, loop):
    """Opaque GIF89a: one global 256-colour palette (no transparent entry), full frames, Bayer dither."""
    run(*FF, "-framerate", framerate, "-i", frame_pattern,
        "-filter_complex",
        "split[a][b];[a]palettegen=max_colors=256:reserve_transparent=0:stats_mode=full[p];"
        "[b][p]paletteuse=dither=bayer:bayer_scale=3:diff_mode=none",
        *FF_OUT, "-gifflags", "0", "-loop", loop, out(rel))


# --------------------------------------------------------------------------- sources

NATURE = os.path.join(wallpaper_root(), "usr/share/backgrounds/mate/nature")
TMP = tempfile.mkdtemp(prefix="mw-anim-")
atexit.register(shutil.rmtree, TMP, True)


def still(name, w, h):
    """vips: centre crop of a mate nature photo to w:h, resized to exactly w x h, as a PNG in TMP."""
    dst = os.path.join(TMP, f"{os.path.splitext(name)[0]}_{w}x{h}.png")
    if not os.path.exists(dst):
        run("vips", "thumbnail", os.path.join(NATURE, name), dst + "[strip]", w, "--height", h,
            "--crop", "centre", "--size", "both")
    return dst


def pan_video(src_png, w, h, fps, frames, x0, y0, x1, y1):
    """ffmpeg input + output options: a w x h window moving linearly from (x0,y0) to (x1,y1) over the frames.
    The output is cut by time (frames / fps), not by a frame count: `-frames:v` would end an audio track early."""
    last = max(frames - 1, 1)
    vf = (f"crop={w}:{h}:x='{x0}+trunc(n*{x1 - x0}/{last})':y='{y0}+trunc(n*{y1 - y0}/{last})',"
          f"format=yuv420p")
    return ["-loop", "1", "-framerate", fps, "-i", src_png], ["-vf", vf, "-t", f"{frames / fps:.6f}", "-r", fps]


# --------------------------------------------------------------------------- animations (visitor)

def make_animations():
    A = "animations/"

    # WhatsApp's GIF: a 3 s, 12 fps, 480x270 pan across a photo, H.264 yuv420p, moov first, no audio.
    wide = still("Dune.jpg", 1280, 800)
    vin, vout = pan_video(wide, 480, 270, 12, 36, 0, 100, 800, 500)
    rel = A + "whatsapp_gif.mp4"
    run(*FF, *vin, *vout, *X264, "-crf", "26", "-an", *FF_OUT, "-movflags", "+faststart", out(rel))
    p = ffprobe(rel)
    assert [s["codec_type"] for s in p["streams"]] == ["video"]
    add("mp4-whatsapp-gif", rel,
        "a GIF as WhatsApp carries it: 3 s 12 fps 480x270 pan across mate Dune.jpg, H.264 Main yuv420p, "
        "moov before mdat (-movflags +faststart), no audio track; the playback is the original",
        {"status": "accepted", "detectedType": "video/mp4", "kind": "animation", "thumbnail": thumb(480, 270),
         "playback": {"durationMs": ms(p["format"]["duration"]), "toleranceMs": 100}},
        declared="video/mp4", name="VID-20261125-WA0001.mp4")

    # The same with a silent AAC track (anullsrc): still an animation.
    rel = A + "whatsapp_gif_silent_track.mp4"
    run(*FF, *vin, "-f", "lavfi", "-t", "3", "-i", "anullsrc=r=44100:cl=mono", *vout, *X264, "-crf", "26",
        "-c:a", "aac", "-b:a", "32k", *FF_OUT, "-movflags", "+faststart", out(rel))
    p = ffprobe(rel)
    assert [s["codec_type"] for s in p["streams"]] == ["video", "audio"]
    add("mp4-whatsapp-gif-silent-aac", rel,
        "the WhatsApp GIF plus a silent AAC track (ffmpeg anullsrc, 44.1 kHz mono): digital silence is not "
        "sound, so still an animation",
        {"status": "accepted", "detectedType": "video/mp4", "kind": "animation", "thumbnail": thumb(480, 270),
         "playback": {"durationMs": ms(p["format"]["duration"]), "toleranceMs": 100}},
        declared="video/mp4", name="VID-20261125-WA0002.mp4")

    # A phone's QuickTime movie: portrait 360x640, 20 fps, 2 s, moov at the end.
    tall = still("FreshFlower.jpg", 540, 960)
    vin, vout = pan_video(tall, 360, 640, 20, 40, 0, 0, 180, 320)
    rel = A + "phone_gif.mov"
    run(*FF, *vin, *vout, *X264, "-crf", "28", "-an", *FF_OUT, "-f", "mov", out(rel))
    with open(out(rel), "rb") as f:
        head = f.read(12)
    assert head[4:12] == b"ftypqt  ", head
    boxes = [b[0] for b in delivery_check.top_level_boxes(open(out(rel), "rb").read())]
    assert boxes.index("moov") > boxes.index("mdat"), boxes
    p = ffprobe(rel)
    add("mov-phone-gif", rel,
        "QuickTime movie as phones send short clips: ftyp 'qt  ', moov after mdat, H.264 yuv420p portrait 360x640 "
        "20 fps 2 s pan across mate FreshFlower.jpg, no audio; the playback must be a re-encoded MP4",
        {"status": "accepted", "detectedType": "video/quicktime", "kind": "animation",
         "thumbnail": thumb(360, 640),
         "playback": {"durationMs": ms(p["format"]["duration"]), "toleranceMs": 100}},
        declared="video/quicktime", name="IMG_0412.MOV")

    # A video with speech: not a GIF.
    wav = os.path.join(TMP, "speech.wav")
    run("espeak-ng", "-v", "en-us", "-s", "150", "-w", wav,
        "Hi, it's Anna. This is the parcel as it arrived this morning, you can see the corner is crushed.")
    secs = float(run("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", wav,
                     capture_output=True, text=True).stdout)
    nframes = int(math.ceil(secs * 12))         # the video covers the speech
    vin, vout = pan_video(still("Storm.jpg", 960, 640), 480, 270, 12, nframes, 0, 0, 480, 370)
    rel = A + "speech_video.mp4"
    run(*FF, *vin, "-i", wav, *vout, *X264, "-crf", "30", "-c:a", "aac", "-b:a", "48k", "-ar", "22050",
        *FF_OUT, "-movflags", "+faststart", out(rel))
    add("mp4-speech-video", rel,
        f"480x270 H.264 pan across mate Storm.jpg with {secs:.1f} s of espeak-ng speech as AAC: a video with "
        "sound is not a GIF",
        rejected("unsupported_type", "video/mp4"), declared="video/mp4", name="VID-20261125-WA0003.mp4")

    # 40 s silent: over the animation limit.
    vin, vout = pan_video(still("Aqua.jpg", 480, 300), 160, 90, 2, 80, 0, 0, 320, 210)
    rel = A + "long_silent_40s.mp4"
    run(*FF, *vin, *vout, *X264, "-crf", "32", "-an", *FF_OUT, "-movflags", "+faststart", out(rel))
    p = ffprobe(rel)
    assert abs(float(p["format"]["duration"]) - 40) < 0.01, p["format"]["duration"]
    add("mp4-long-silent-40s", rel,
        "silent 160x90 H.264 MP4 of 40 s at 2 fps (pan across mate Aqua.jpg), moov first: longer than the 30 s "
        "an animation may last",
        rejected("too_long", "video/mp4"), declared="video/mp4", name="VID-20261125-WA0004.mp4")


# --------------------------------------------------------------------------- operator GIFs

def make_operator_gifs():
    A = "animations/"

    # Opaque animated GIF: 10 frames 320x200 panning across a photo, delays 100..350 ms (2 s in all).
    delays = [12, 25, 15, 30, 10, 20, 35, 18, 15, 20]
    assert sum(delays) == 200
    wide = still("TwoWings.jpg", 640, 400)
    frames = os.path.join(TMP, "gif")
    os.makedirs(frames, exist_ok=True)
    run(*FF, "-loop", "1", "-framerate", "10", "-i", wide,
        "-vf", "crop=320:200:x='trunc(n*320/9)':y='trunc(n*200/9)'", "-frames:v", len(delays),
        *FF_OUT, os.path.join(frames, "f%02d.png"))
    rel = A + "operator_anim.gif"
    make_gif(os.path.join(frames, "f%02d.png"), 10, rel, "0")
    set_gif_delays(out(rel), delays)
    w, h, fr = gif_frames(open(out(rel), "rb").read())
    assert (w, h) == (320, 200) and [f["delay"] for f in fr] == delays and not any(f["transparent"] for f in fr)
    total = sum(f["delay"] for f in fr) * 10
    add("gif-operator-animated", rel,
        f"opaque animated GIF89a from an operator: {len(fr)} full 320x200 frames panning across mate "
        f"TwoWings.jpg, one global palette, no transparency, delays {'/'.join(str(d * 10) for d in delays)} ms "
        f"({total} ms); WhatsApp gets it as an H.264 MP4",
        {"status": "accepted", "detectedType": "image/gif", "kind": "image", "thumbnail": thumb(320, 200),
         "delivery": {"sendAs": "video", "contentType": "video/mp4", "width": 320, "height": 200,
                      "durationMs": total, "toleranceMs": 50}},
        frm="operator", declared="image/gif", name="thank-you.gif")

    # The existing transparent animated GIF from an operator.
    rel = "images/animated_transparent.gif"
    w, h, fr = gif_frames(open(out(rel), "rb").read())
    total = sum(f["delay"] for f in fr) * 10
    add("gif-animated-transparent-operator", rel,
        f"the animated transparent GIF89a ({len(fr)} frames, {w}x{h}, {total} ms) from an operator: delivered "
        "as an H.264 MP4",
        {"status": "accepted", "detectedType": "image/gif", "kind": "image", "thumbnail": thumb(w, h, True),
         "delivery": {"sendAs": "video", "contentType": "video/mp4", "width": w, "height": h,
                      "durationMs": total, "toleranceMs": 50}},
        frm="operator", declared="image/gif", name="sticker.gif")

    # Single-frame GIF: re-encoded as PNG.
    rel = A + "still.gif"
    make_gif(still("Blinds.jpg", 400, 250), 1, rel, "-1")
    w, h, fr = gif_frames(open(out(rel), "rb").read())
    assert (w, h) == (400, 250) and len(fr) == 1 and not fr[0]["transparent"]
    add("gif-still-operator", rel,
        "single-frame opaque GIF89a 400x250 (mate Blinds.jpg, 256 colours, no loop extension) from an "
        "operator: WhatsApp takes no GIF, so it goes out as a PNG",
        {"status": "accepted", "detectedType": "image/gif", "kind": "image", "thumbnail": thumb(400, 250),
         "delivery": {"sendAs": "image", "contentType": "image/png", "width": 400, "height": 250}},
        frm="operator", declared="image/gif", name="banner.gif")


# --------------------------------------------------------------------------- stickers

STICKER_ALPHA = ("format=rgba,geq="
                 "r='if(gt(hypot(X-255.5,Y-255.5),232),255,r(X,Y))':"
                 "g='if(gt(hypot(X-255.5,Y-255.5),232),255,g(X,Y))':"
                 "b='if(gt(hypot(X-255.5,Y-255.5),232),255,b(X,Y))':"
                 "a='clip((244-hypot(X-255.5,Y-255.5))*128,0,255)'")


def webpinfo(rel):
    return run("webpinfo", out(rel), capture_output=True, text=True).stdout


def make_stickers():
    S = "stickers/"

    # Static: a round cut-out with a white border, transparent outside (VP8X + ALPH + VP8).
    png = os.path.join(TMP, "sticker.png")
    run(*FF, "-i", still("LadyBird.jpg", 512, 512), "-vf", STICKER_ALPHA, *FF_OUT, png)
    rel = S + "static_512.webp"
    run("cwebp", "-quiet", "-q", "75", "-alpha_q", "100", "-m", "6", "-metadata", "none", png, "-o", out(rel))
    size = os.path.getsize(out(rel))
    info = webpinfo(rel)
    assert size <= STICKER_STATIC_MAX and "Width: 512" in info and "ALPH" in info, (size, info)
    add("webp-sticker-static", rel,
        f"WhatsApp-style static sticker: 512x512 lossy WebP with alpha (round cut-out of mate LadyBird.jpg, "
        f"white border, transparent corners), {size} bytes (<= 100 KiB)",
        {"status": "accepted", "detectedType": "image/webp", "kind": "sticker",
         "thumbnail": {"width": 480, "height": 480, "hasAlpha": True}},
        declared="image/webp", name="STK-20261125-WA0001.webp")
    add("webp-sticker-static-operator", rel,
        "the static sticker from an operator: WhatsApp takes no WebP from the business side",
        rejected("unsupported_type", "image/webp"), frm="operator", declared="image/webp", name="sticker.webp")

    # Animated: 6 frames of the same cut-out panning across a photo (img2webp, lossy, 150 ms each).
    frames = os.path.join(TMP, "sticker")
    os.makedirs(frames, exist_ok=True)
    run(*FF, "-loop", "1", "-framerate", "10", "-i", still("YellowFlower.jpg", 896, 560),
        "-vf", "crop=512:512:x='trunc(n*384/5)':y='trunc(n*48/5)'," + STICKER_ALPHA, "-frames:v", "6",
        *FF_OUT, os.path.join(frames, "f%02d.png"))
    rel = S + "animated_512.webp"
    args = []
    for i in range(1, 7):
        args += ["-d", "150", "-lossy", "-q", "60", "-m", "4", os.path.join(frames, f"f{i:02d}.png")]
    run("img2webp", "-loop", "0", *args, "-o", out(rel), capture_output=True)
    size = os.path.getsize(out(rel))
    info = webpinfo(rel)
    assert size <= STICKER_ANIMATED_MAX and info.count("Chunk ANMF") == 6 and "Canvas size 512 x 512" in info, \
        (size, info)
    add("webp-sticker-animated", rel,
        f"WhatsApp-style animated sticker: 512x512 animated WebP (img2webp, 6 lossy frames of 150 ms with alpha, "
        f"a round cut-out panning across mate YellowFlower.jpg), {size} bytes (<= 500 KiB); thumbnail from "
        "the first frame",
        {"status": "accepted", "detectedType": "image/webp", "kind": "sticker",
         "thumbnail": {"width": 480, "height": 480, "hasAlpha": True}},
        declared="image/webp", name="STK-20261125-WA0002.webp")

    # A photo as WebP: not sticker-sized, so an image.
    rel = S + "photo_1024.webp"
    run("cwebp", "-quiet", "-q", "70", "-m", "6", "-metadata", "none", still("GreenMeadow.jpg", 1024, 683),
        "-o", out(rel))
    add("webp-photo-1024", rel,
        "1024x683 lossy WebP photo (cwebp -q 70 of mate GreenMeadow.jpg), no alpha: a visitor's WebP that is "
        "not a sticker is an image",
        {"status": "accepted", "detectedType": "image/webp", "kind": "image", "thumbnail": thumb(1024, 683)},
        declared="image/webp", name="IMG-20261125-WA0010.webp")


# --------------------------------------------------------------------------- operator cases of existing files

def make_operator_cases(manifest):
    by_id = {f["id"]: f for f in manifest["fixtures"]}

    def operator_copy(id, visitor_id, description, delivery, name):
        v = by_id[visitor_id]
        if "sameBytes" in delivery:
            check_delivery_rules(v["file"], delivery["sendAs"], delivery["sameBytes"])
        e = {k: val for k, val in v["expect"].items() if k != "delivery"}
        e["delivery"] = delivery
        add(id, v["file"], description, e, frm="operator", declared=v["declaredType"], name=name)

    operator_copy("png-rgba-alpha-operator", "png-rgba-alpha",
                  "the RGBA PNG (transparent corners, half-transparent hole) from an operator: flattened onto "
                  "white and sent as a JPEG",
                  {"sendAs": "image", "contentType": "image/jpeg", "width": 640, "height": 400}, "offer.png")
    operator_copy("jpeg-cmyk-operator", "jpeg-cmyk",
                  "the CMYK JPEG (4 components, Adobe marker) from an operator: re-encoded as 8-bit YCbCr sRGB",
                  {"sendAs": "image", "contentType": "image/jpeg", "sameBytes": False, "width": 1200,
                   "height": 800}, "print.jpg")
    operator_copy("jpeg-exif-rotated-gps-operator", "jpeg-exif-rotated-gps",
                  "the JPEG stored 1200x800 with EXIF Orientation=6 and GPS from an operator: sent upright "
                  "800x1200 without EXIF/GPS",
                  {"sendAs": "image", "contentType": "image/jpeg", "sameBytes": False, "width": 800,
                   "height": 1200}, "IMG_20261125_160002.jpg")
    operator_copy("png-screenshot-operator", "png-screenshot",
                  "the opaque 1080x2340 screenshot PNG from an operator: re-encoded, still a PNG",
                  {"sendAs": "image", "contentType": "image/png", "width": 1080, "height": 2340},
                  "Screenshot_20261125-160000.png")
    operator_copy("pdf-text-3-pages-operator", "pdf-text-3-pages",
                  "the 3-page text PDF from an operator: sent to WhatsApp as the same bytes, as a document",
                  {"sendAs": "document", "contentType": "application/pdf", "sameBytes": True}, "invoice.pdf")

    # Existing operator case: the WhatsApp photo already meets the rules, so it goes out byte for byte.
    wa = by_id["jpeg-whatsapp-photo-operator"]
    check_delivery_rules(wa["file"], "image", True)
    deliveries[wa["id"]] = {"sendAs": "image", "contentType": "image/jpeg", "sameBytes": True,
                            "width": 1600, "height": 1000}


# --------------------------------------------------------------------------- main

def merge(manifest):
    fixtures = manifest["fixtures"]
    index = {f["id"]: i for i, f in enumerate(fixtures)}
    for id, delivery in deliveries.items():
        fixtures[index[id]]["expect"]["delivery"] = delivery
    for e in entries:
        if e["id"] in index:
            fixtures[index[e["id"]]] = e
        else:
            index[e["id"]] = len(fixtures)
            fixtures.append(e)
    ids = [f["id"] for f in fixtures]
    assert len(ids) == len(set(ids)), "duplicate ids"


def main():
    path = os.path.join(HERE, "fixtures.json")
    with open(path) as f:
        manifest = json.load(f)
    for sub in ("animations", "stickers"):
        d = os.path.join(HERE, sub)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    make_animations()
    make_operator_gifs()
    make_stickers()
    make_operator_cases(manifest)
    merge(manifest)
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    total = 0
    for sub in ("animations", "stickers"):
        for name in sorted(os.listdir(os.path.join(HERE, sub))):
            size = os.path.getsize(os.path.join(HERE, sub, name))
            total += size
            print(f"{size:>9}  {sub}/{name}")
    print(f"{total:>9}  in all; {len(entries)} entries merged, {len(deliveries)} deliveries added, "
          f"{len(manifest['fixtures'])} fixtures")


if __name__ == "__main__":
    main()
