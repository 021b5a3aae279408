#!/usr/bin/python3
"""Build the safe copy benchmark's PDFs (Benchmarks/safecopy.sh): text, scan and photo documents.

    /usr/bin/python3 Benchmarks/corpus/bench_pdf_corpus.py OUT_DIR

Deterministic (fixed seeds, the repository's own photos). Writes into OUT_DIR:

  text_10_pages.pdf   10 pages of Helvetica text and a price table (9 A4, 1 US Letter), what a visitor's invoice or
                      contract is: vector text, no images
  scan_5_pages.pdf    5 pages as a phone or office scanner makes them: the text pages rendered at 200 DPI (the
                      `vips` command), made grey, with seeded noise and a slight tilt, stored as greyscale JPEGs (q80)
                      filling A4 pages
  photo_4_pages.pdf   4 pages each one colour photo (Fixtures/images: whatsapp_photo, progressive, exif_rotated_gps
                      and camera_5mib scaled to 2000 px), the JPEG bytes as they are, pages 842 pt wide

Needs the `vips` command (libvips-tools).
"""
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Fixtures"))
from make_hostile import pdf, stream  # noqa: E402 - the PDF writer the hostile fixtures are made with

PHOTOS = ["whatsapp_photo.jpg", "progressive.jpg", "exif_rotated_gps.jpg", "camera_5mib.jpg"]


def pages_pdf(pages):
    """pages: (width_pt, height_pt, content bytes, resources bytes, [extra objects]) with extra objects referenced
    as numbers from `first` (the page's own objects are placed after the catalog, pages and font)."""
    objects = [None, None, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    kids = []
    for width, height, content, image in pages:
        page_number = len(objects) + 1
        kids.append(b"%d 0 R" % page_number)
        resources = b"/Font << /F1 3 0 R >>"
        if image is not None:
            resources += b" /XObject << /Im0 %d 0 R >>" % (page_number + 2)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << %s >> /Contents %d 0 R >>"
                       % (str(width).encode(), str(height).encode(), resources, page_number + 1))
        objects.append(stream(b"", content))
        if image is not None:
            objects.append(image)
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % len(kids)
    return pdf(objects)


def text_page(number, rng):
    words = ("the customer order parcel invoice delivery address credit note payment account replacement damaged "
             "corner desk confirmed scheduled thursday amounts include vat contract clause party agrees terms service "
             "period notice written renewal").split()
    lines = [b"BT /F1 22 Tf 72 770 Td (Invoice 2026-%03d, page %d) Tj ET" % (100 + number, number + 1)]
    y = 730
    for _ in range(24):
        text = " ".join(rng.choice(words) for _ in range(13)).capitalize() + "."
        lines.append(b"BT /F1 11 Tf 72 %d Td (%s) Tj ET" % (y, text.encode()))
        y -= 16
    y -= 10
    for row in range(12):
        lines.append(b"BT /F1 10 Tf 72 %d Td (Article %03d) Tj 220 0 Td (%d) Tj 80 0 Td (%.2f EUR) Tj ET"
                     % (y, row + 1, row % 4 + 1, (row + 1) * 12.5))
        y -= 14
    lines.append(b"0.2 0.3 0.6 RG 1 w 72 %d m 523 %d l S" % (y, y))
    return b"\n".join(lines)


def text_pdf(rng):
    pages = []
    for n in range(10):
        width, height = (612, 792) if n == 4 else (595.28, 841.89)
        pages.append((width, height, text_page(n, rng), None))
    return pages_pdf(pages)


def vips(*args):
    subprocess.run(["vips", *[str(a) for a in args]], check=True)


def scan_pdf(text_path, tmp):
    pages = []
    for n in range(5):
        base = os.path.join(tmp, f"scan{n}")
        vips("pdfload", text_path, base + "_page.v", "--page", n, "--dpi", 200)
        vips("flatten", base + "_page.v", base + "_flat.v", "--background", 255)
        vips("colourspace", base + "_flat.v", base + "_grey.v", "b-w")
        vips("extract_band", base + "_grey.v", base + "_one.v", 0)
        width, height = [int(x) for x in subprocess.run(["vipsheader", "-f", "width", base + "_one.v"], capture_output=True, text=True).stdout.split()] + \
            [int(subprocess.run(["vipsheader", "-f", "height", base + "_one.v"], capture_output=True, text=True).stdout)]
        vips("gaussnoise", base + "_noise.v", width, height, "--sigma", 6, "--mean", 0, "--seed", 40 + n)
        vips("add", base + "_one.v", base + "_noise.v", base + "_noisy.v")
        vips("linear", base + "_noisy.v", base + "_paper.v", 0.92, 8)  # grey paper, lighter ink
        vips("similarity", base + "_paper.v", base + "_tilt.v", "--angle", 0.6 - 0.3 * n, "--background", 235)
        vips("cast", base + "_tilt.v", base + "_u8.v", "uchar")
        vips("extract_area", base + "_u8.v", base + "_crop.v", 0, 0, width, height)
        vips("jpegsave", base + "_crop.v", base + ".jpg", "--Q", 80, "--strip")
        data = open(base + ".jpg", "rb").read()
        image = stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8"
                       b" /Filter /DCTDecode" % (width, height), data)
        pages.append((595.28, 841.89, b"q 595.28 0 0 841.89 0 0 cm /Im0 Do Q", image))
    return pages_pdf(pages)


def photo_pdf(tmp):
    pages = []
    for name in PHOTOS:
        source = os.path.join(ROOT, "Fixtures", "images", name)
        target = os.path.join(tmp, name)
        # autorotated (EXIF), at most 2000 px, sRGB baseline JPEG q85 without metadata
        vips("thumbnail", source, target + ".v", 2000)
        vips("jpegsave", target + ".v", target, "--Q", 85, "--strip")
        width = int(subprocess.run(["vipsheader", "-f", "width", target], capture_output=True, text=True).stdout)
        height = int(subprocess.run(["vipsheader", "-f", "height", target], capture_output=True, text=True).stdout)
        page_w, page_h = 842, round(842 * height / width, 2)
        image = stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8"
                       b" /Filter /DCTDecode" % (width, height), open(target, "rb").read())
        pages.append((page_w, page_h, b"q %d 0 0 %s 0 0 cm /Im0 Do Q" % (page_w, str(page_h).encode()), image))
    return pages_pdf(pages)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(23)
    text_path = os.path.join(out, "text_10_pages.pdf")
    open(text_path, "wb").write(text_pdf(rng))
    with tempfile.TemporaryDirectory(prefix="mw-pdf-corpus-") as tmp:
        open(os.path.join(out, "scan_5_pages.pdf"), "wb").write(scan_pdf(text_path, tmp))
        open(os.path.join(out, "photo_4_pages.pdf"), "wb").write(photo_pdf(tmp))
    for name in sorted(os.listdir(out)):
        print(f"{name}: {os.path.getsize(os.path.join(out, name))} bytes")


if __name__ == "__main__":
    main()
