#!/usr/bin/python3
"""Build the thumbnail benchmark corpus from Debian's wallpaper photos.

    /usr/bin/python3 Benchmarks/corpus/bench_corpus.py [--out bench-out]

Makes, deterministically (fixed seeds, same package versions -> same bytes):

  bench-out/corpus/whatsapp/   10 WhatsApp-like JPEGs: real photos at ~1600 px long side
                               (1600x1000 .. 1200x1600), baseline q75 4:2:0, no metadata
  bench-out/corpus/camera/     10 camera-like JPEGs: 8-12 MP (3264x2448 .. 4032x3024), q90 4:2:0, each
                               <= 5 MiB; real photos upscaled with Lanczos plus seeded Gaussian
                               "sensor" noise so they compress like camera files (2-5 MB); four carry an
                               EXIF Orientation tag (6, 3, 8, 6)
  bench-out/corpus/screenshots/ 5 PNG screenshots: two phone chat screens 1080x2340 made of *rendered text*
                               (Pillow + DejaVu Sans), one phone home screen 1080x2340 = the *wallpaper PNG*
                               Kay/1080x1920 stretched to the screen plus rendered icons and labels, one
                               desktop 1920x1080 RGBA = the *wallpaper PNG* Canopee/3840x2160 scaled down
                               with a rendered text-editor window on it, one 1920x1080 document page of
                               rendered text
  bench-out/rss/near_50mp.jpg   7000x7000 = 49,000,000 px (limit 50,000,000) from a real photo, <= 5 MiB
  bench-out/rss/progressive_12mp.jpg  4000x3000 progressive q90 camera-like photo, <= 5 MiB
  bench-out/corpus.txt          what each file is and where it came from

Source photos: Debian `mate-backgrounds` (mate/nature photos, Elephants) and `plasma-workspace-wallpapers`
(photographic wallpapers). They are fetched with `apt-get download` + `dpkg -x` into bench-out/cache/wall
unless MW_WALLPAPER_ROOT points at an extracted root that has both. Heavy pixel work is done by the
`vips` command (libvips-tools); Pillow (python3-pil) draws the screenshots.

The corpus is rebuilt only when this script changes (bench-out/corpus/.stamp holds its hash).
"""

import argparse
import glob
import hashlib
import os
import random
import shutil
import struct
import subprocess
import sys

from PIL import Image, ImageDraw, ImageFont

FIVE_MIB = 5 * 1024 * 1024
MAX_PIXELS = 50_000_000
PACKAGES = ["mate-backgrounds", "plasma-workspace-wallpapers"]
MATE = "usr/share/backgrounds/mate"
PLASMA = "usr/share/wallpapers"
PROBES = [f"{MATE}/nature/Storm.jpg", f"{PLASMA}/Path/contents/images/2560x1600.jpg"]

# WhatsApp-like: (output name, source relative to the root, width, height). Portrait ones are crops of
# landscape photos, as a phone held upright would take them. GreenMeadow stays at its own 1280x1024
# (WhatsApp never upscales).
WHATSAPP = [
    ("wa01_storm.jpg", f"{MATE}/nature/Storm.jpg", 1600, 1067),
    ("wa02_raindrops.jpg", f"{MATE}/nature/RainDrops.jpg", 1600, 1000),
    ("wa03_blinds.jpg", f"{MATE}/nature/Blinds.jpg", 1600, 1000),
    ("wa04_freshflower.jpg", f"{MATE}/nature/FreshFlower.jpg", 1600, 1203),
    ("wa05_dune.jpg", f"{MATE}/nature/Dune.jpg", 1600, 1000),
    ("wa06_yellowflower.jpg", f"{MATE}/nature/YellowFlower.jpg", 1600, 1200),
    ("wa07_garden_portrait.jpg", f"{MATE}/nature/Garden.jpg", 1200, 1600),
    ("wa08_aqua_portrait.jpg", f"{MATE}/nature/Aqua.jpg", 1200, 1600),
    ("wa09_twowings_portrait.jpg", f"{MATE}/nature/TwoWings.jpg", 900, 1600),
    ("wa10_greenmeadow.jpg", f"{MATE}/nature/GreenMeadow.jpg", 1280, 1024),
]

# Camera-like: (name, source, width, height, EXIF orientation or None, noise sigma). The stored pixels
# are always landscape; orientation 6/8 means the phone was upright, 3 upside down.
CAMERA = [
    ("cam01_eveningglow_12mp.jpg", f"{PLASMA}/EveningGlow/contents/images/2560x1600.jpg", 4000, 3000, None, 5.0),
    ("cam02_path_12mp_rot6.jpg", f"{PLASMA}/Path/contents/images/2560x1600.jpg", 4032, 3024, 6, 5.0),
    ("cam03_fallenleaf_8mp.jpg", f"{PLASMA}/FallenLeaf/contents/images/2560x1600.jpg", 3264, 2448, None, 5.0),
    ("cam04_kite_12mp_rot3.jpg", f"{PLASMA}/Kite/contents/images/2560x1600.jpg", 4000, 3000, 3, 5.0),
    ("cam05_darkesthour_10mp.jpg", f"{PLASMA}/DarkestHour/contents/images/2560x1600.jpg", 3648, 2736, None, 5.0),
    ("cam06_summer1am_12mp_rot8.jpg", f"{PLASMA}/summer_1am/contents/images/2560x1600.jpg", 4032, 3024, 8, 5.0),
    ("cam07_ladybird_8mp_rot6.jpg", f"{MATE}/nature/LadyBird.jpg", 3264, 2448, 6, 5.0),
    ("cam08_wood_12mp.jpg", f"{MATE}/nature/Wood.jpg", 4000, 3000, None, 5.0),
    ("cam09_elephants_12mp.jpg", f"{MATE}/abstract/Elephants_5640x3172.jpg", 4000, 3000, None, 0.0),
    ("cam10_yellowflower_9mp.jpg", f"{MATE}/nature/YellowFlower.jpg", 4000, 2250, None, 5.0),
]

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def run(*cmd, **kw):
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def vips(*args):
    # libvips prints harmless warnings (e.g. "unknown EXIF resolution unit") for some wallpapers.
    run("vips", *args, stderr=subprocess.DEVNULL)


# --------------------------------------------------------------------------- sources

def wallpaper_root(cache):
    env = os.environ.get("MW_WALLPAPER_ROOT")
    for root in ([env] if env else []) + [os.path.join(cache, "wall")]:
        if all(os.path.exists(os.path.join(root, p)) for p in PROBES):
            return root
    debs = os.path.join(cache, "debs")
    os.makedirs(debs, exist_ok=True)
    print(f"fetching {' '.join(PACKAGES)} (apt-get download) into {debs}", flush=True)
    cmd = ["apt-get", "download"] + PACKAGES
    if subprocess.run(cmd, cwd=debs).returncode != 0:
        # A fresh machine may have empty package lists.
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        run(*sudo, "apt-get", "update", "-qq")
        run(*cmd, cwd=debs)
    root = os.path.join(cache, "wall")
    for deb in sorted(glob.glob(os.path.join(debs, "*.deb"))):
        if any(os.path.basename(deb).startswith(p + "_") for p in PACKAGES):
            run("dpkg", "-x", deb, root)
    missing = [p for p in PROBES if not os.path.exists(os.path.join(root, p))]
    if missing:
        sys.exit(f"bench_corpus: source photos missing after extraction: {missing}")
    return root


# --------------------------------------------------------------------------- JPEG helpers

def exif_orientation_segment(orientation):
    """An APP1 Exif segment whose only tag is Orientation (0x0112, SHORT)."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    tiff += struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def insert_after_app0(jpeg, segment):
    assert jpeg[:2] == b"\xff\xd8"
    at = 2
    if jpeg[2:4] == b"\xff\xe0":                       # keep JFIF first, Exif right after it
        at = 4 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:at] + segment + jpeg[at:]


def fill(src, dst, w, h):
    """Centre-crop src to w:h and resize (Lanczos 3, up or down) to exactly w x h, as sRGB."""
    vips("thumbnail", src, dst, w, "--height", h, "--crop", "centre", "--size", "both")


def save_jpeg(src_v, path, q, *extra):
    vips("jpegsave", src_v, path, "--Q", q, "--strip", "--subsample-mode", "on", *extra)
    return os.path.getsize(path)


# --------------------------------------------------------------------------- groups

def make_whatsapp(root, out, tmp, notes):
    d = os.path.join(out, "whatsapp")
    os.makedirs(d)
    for name, src, w, h in WHATSAPP:
        v = os.path.join(tmp, "wa.v")
        fill(os.path.join(root, src), v, w, h)
        size = save_jpeg(v, os.path.join(d, name), 75)  # baseline (no --interlace), 4:2:0, no metadata
        notes.append(f"whatsapp/{name}: {w}x{h} baseline q75 4:2:0 from {src}, {size:,} bytes")


def make_camera(root, out, tmp, notes):
    d = os.path.join(out, "camera")
    os.makedirs(d)
    for i, (name, src, w, h, orientation, sigma) in enumerate(CAMERA):
        base = os.path.join(tmp, "cam_base.v")
        full = os.path.join(root, src)
        sw, sh = Image.open(full).size
        if sw >= w and sh >= h:                         # big enough: a native centre crop, no resampling
            vips("crop", full, base, (sw - w) // 2, (sh - h) // 2, w, h)
        else:
            fill(full, base, w, h)
        path = os.path.join(d, name)
        # Noise makes the file camera-sized; lower it (then the quality) until the file fits in 5 MiB.
        for s, q in [(sigma, 90), (sigma * 0.7, 90), (sigma * 0.5, 90), (sigma * 0.5, 85), (0, 85), (0, 80)]:
            pixels = base
            if s > 0:
                noise, summed, pixels = (os.path.join(tmp, n) for n in ("noise.v", "sum.v", "noisy.v"))
                vips("gaussnoise", noise, w, h, "--sigma", s, "--mean", 0, "--seed", 1000 + i)
                vips("add", base, noise, summed)
                vips("cast", summed, pixels, "uchar")       # clips to 0..255
            size = save_jpeg(pixels, path, q)
            if size <= FIVE_MIB - 64:
                break
        data = open(path, "rb").read()
        if orientation:
            data = insert_after_app0(data, exif_orientation_segment(orientation))
            open(path, "wb").write(data)
        assert len(data) <= FIVE_MIB, (name, len(data))
        if name.startswith("cam01"):                    # keep the noisy pixels for the progressive RSS file
            shutil.copy(pixels, os.path.join(tmp, "progressive_src.v"))
        tag = f", EXIF Orientation={orientation}" if orientation else ""
        how = "native crop" if sw >= w and sh >= h else f"Lanczos upscale from {sw}x{sh}"
        notes.append(f"camera/{name}: {w}x{h} ({w * h / 1e6:.1f} MP) q{q} 4:2:0, noise sigma {s:g}, {how} of {src}{tag}, {len(data):,} bytes")


def font(size):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default()


WORDS = ("hello order invoice photo attached please check the delivery thanks when tomorrow address number "
         "receipt payment received ok great size colour return refund tracking code store opening hours").split()


def chat_screen(seed, dark):
    """A phone chat screenshot, 1080x2340: rendered text bubbles (no wallpaper)."""
    W, H = 1080, 2340
    bg, bar, mine, theirs, ink = (((11, 20, 26), (31, 44, 52), (0, 92, 75), (32, 44, 51), (233, 237, 239)) if dark
                                  else ((236, 229, 221), (7, 94, 84), (220, 248, 198), (255, 255, 255), (20, 20, 20)))
    img = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(img)
    big, small, tiny = font(40), font(30), font(22)
    d.rectangle((0, 0, W, 250), fill=bar)
    d.text((40, 25), "16:%02d" % (seed % 60), fill=(255, 255, 255), font=small)
    d.ellipse((40, 115, 150, 225), fill=(200, 200, 200))
    d.text((180, 130), "Support desk", fill=(255, 255, 255), font=big)
    d.text((180, 185), "online", fill=(220, 240, 235), font=small)
    rnd = random.Random(seed)
    y, right = 300, False
    while y < H - 320:
        lines = [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 6))) for _ in range(rnd.randint(1, 3))]
        tw = max(int(d.textlength(t, font=big)) for t in lines) + 70
        th = 50 * len(lines) + 60
        x0 = W - tw - 40 if right else 40
        d.rounded_rectangle((x0, y, x0 + tw, y + th), radius=24, fill=mine if right else theirs)
        for k, t in enumerate(lines):
            d.text((x0 + 30, y + 20 + 50 * k), t, fill=ink, font=big)
        d.text((x0 + tw - 100, y + th - 34), "16:%02d" % rnd.randint(0, 59), fill=(130, 130, 130), font=tiny)
        y += th + 30
        right = rnd.random() < 0.5
    d.rectangle((0, H - 200, W, H), fill=bar if dark else (240, 240, 240))
    d.rounded_rectangle((30, H - 170, W - 170, H - 60), radius=55, fill=theirs)
    d.text((80, H - 140), "Message", fill=(150, 150, 150), font=big)
    d.ellipse((W - 150, H - 175, W - 30, H - 55), fill=(0, 168, 132))
    return img


def home_screen(root):
    """A phone home screen, 1080x2340: the Kay 1080x1920 wallpaper PNG stretched, rendered icons/labels."""
    W, H = 1080, 2340
    img = Image.open(os.path.join(root, PLASMA, "Kay/contents/images/1080x1920.png")).convert("RGB")
    img = img.resize((W, H), Image.LANCZOS)
    d = ImageDraw.Draw(img)
    small = font(30)
    d.text((40, 25), "09:41", fill=(255, 255, 255), font=small)
    d.text((420, 300), "Thursday, 25 November", fill=(255, 255, 255), font=font(44))
    rnd = random.Random(7)
    labels = "Phone Messages Camera Photos Maps Mail Clock Calendar Files Music Notes Settings Store Weather".split()
    for k, label in enumerate(labels + labels[:6]):
        row, col = divmod(k, 4)
        x, y = 90 + col * 250, 700 + row * 300
        colour = tuple(rnd.randint(40, 230) for _ in range(3))
        d.rounded_rectangle((x, y, x + 150, y + 150), radius=38, fill=colour)
        tw = d.textlength(label, font=small)
        d.text((x + 75 - tw / 2, y + 170), label, fill=(255, 255, 255), font=small)
    return img


def desktop_editor(root):
    """A desktop screenshot, 1920x1080 RGBA: Canopee wallpaper PNG scaled down, rendered editor window."""
    img = Image.open(os.path.join(root, PLASMA, "Canopee/contents/images/3840x2160.png")).convert("RGB")
    img = img.resize((1920, 1080), Image.LANCZOS).convert("RGBA")
    d = ImageDraw.Draw(img)
    mono = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 18) \
        if os.path.exists("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf") else font(18)
    d.rectangle((0, 1040, 1920, 1080), fill=(30, 30, 30, 255))
    d.rectangle((220, 110, 1500, 900), fill=(40, 44, 52, 255))
    d.rectangle((220, 110, 1500, 150), fill=(33, 37, 43, 255))
    d.text((240, 118), "ImagePreviewer.swift - mediaworker", fill=(200, 200, 200, 255), font=font(18))
    rnd = random.Random(11)
    kw = "let var func guard return if else switch case struct enum import try throws".split()
    for k in range(33):
        indent = rnd.randint(0, 3) * 4
        text = " " * indent + " ".join(rnd.choice(kw + WORDS) for _ in range(rnd.randint(2, 9)))
        d.text((250, 165 + k * 22), f"{k + 1:3d}  {text}", fill=(171, 178, 191, 255), font=mono)
    return img


def document_page():
    """A desktop screenshot of a document, 1920x1080: rendered text on white."""
    img = Image.new("RGB", (1920, 1080), (245, 245, 245))
    d = ImageDraw.Draw(img)
    d.rectangle((460, 0, 1460, 1080), fill=(255, 255, 255))
    d.text((520, 60), "Invoice 2026-1125", fill=(0, 0, 0), font=font(40))
    rnd = random.Random(23)
    body = font(22)
    for k in range(34):
        d.text((520, 140 + k * 27), " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 13))),
               fill=(40, 40, 40), font=body)
    return img


def make_screenshots(root, out, notes):
    d = os.path.join(out, "screenshots")
    os.makedirs(d)
    shots = [
        ("png01_chat_light_1080x2340.png", chat_screen(1125, dark=False), "rendered text (chat, light)"),
        ("png02_chat_dark_1080x2340.png", chat_screen(2611, dark=True), "rendered text (chat, dark)"),
        ("png03_home_1080x2340.png", home_screen(root), "wallpaper PNG Kay/1080x1920 + rendered icons"),
        ("png04_desktop_editor_1920x1080_rgba.png", desktop_editor(root), "wallpaper PNG Canopee/3840x2160 + rendered editor, RGBA"),
        ("png05_document_1920x1080.png", document_page(), "rendered text (document)"),
    ]
    for name, img, what in shots:
        path = os.path.join(d, name)
        img.save(path, "PNG", compress_level=6)        # zlib level 6 like phone/desktop screenshot tools
        notes.append(f"screenshots/{name}: {img.width}x{img.height} {img.mode} PNG, {what}, {os.path.getsize(path):,} bytes")


def make_rss(root, rss, tmp, notes):
    os.makedirs(rss)
    # Just under the pixel limit: 7000x7000 = 49,000,000 px from the largest real photo, squeezed into 5 MiB.
    src = f"{MATE}/abstract/Elephants_5640x3172.jpg"
    v = os.path.join(tmp, "near50.v")
    fill(os.path.join(root, src), v, 7000, 7000)
    path = os.path.join(rss, "near_50mp.jpg")
    for q in range(90, 40, -5):
        if save_jpeg(v, path, q) <= FIVE_MIB:
            break
    assert 7000 * 7000 <= MAX_PIXELS and os.path.getsize(path) <= FIVE_MIB
    notes.append(f"rss/near_50mp.jpg: 7000x7000 (49,000,000 px) baseline q{q} 4:2:0, Lanczos upscale of {src}, "
                 f"{os.path.getsize(path):,} bytes")
    # Progressive 12 MP: the noisy pixels of camera/cam01, progressive with optimised Huffman tables.
    path = os.path.join(rss, "progressive_12mp.jpg")
    for q in (90, 85, 80):
        if save_jpeg(os.path.join(tmp, "progressive_src.v"), path, q, "--interlace", "--optimize-coding") <= FIVE_MIB:
            break
    notes.append(f"rss/progressive_12mp.jpg: 4000x3000 progressive q{q} 4:2:0 (pixels of camera/cam01), "
                 f"{os.path.getsize(path):,} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench-out"))
    ap.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    corpus, rss, cache = (os.path.join(out, n) for n in ("corpus", "rss", "cache"))
    stamp = os.path.join(corpus, ".stamp")
    digest = hashlib.sha256(open(os.path.abspath(__file__), "rb").read()).hexdigest()
    if not args.force and os.path.exists(stamp) and open(stamp).read() == digest and os.path.isdir(rss):
        print(f"corpus up to date: {corpus}")
        return
    root = wallpaper_root(cache)
    for d in (corpus, rss):
        shutil.rmtree(d, ignore_errors=True)
    tmp = os.path.join(cache, "tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    os.makedirs(corpus)
    notes = []
    make_whatsapp(root, corpus, tmp, notes)
    make_camera(root, corpus, tmp, notes)
    make_screenshots(root, corpus, notes)
    make_rss(root, rss, tmp, notes)
    shutil.rmtree(tmp)
    with open(os.path.join(out, "corpus.txt"), "w") as f:
        f.write("".join(n + "\n" for n in notes))
    with open(stamp, "w") as f:
        f.write(digest)
    print("\n".join(notes))


if __name__ == "__main__":
    main()
