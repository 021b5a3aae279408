#!/usr/bin/env python3
"""Makes the crafted decoder-attack fixtures under Fixtures/hostile/ (pure Python, deterministic).

    python3 Fixtures/make_hostile.py

- vorbis_rate_*.ogg: Fixtures/audio/vorbis_16k.ogg with the sample rate of its identification header
  (bytes 40-43, little endian) set to 2^31, 2^31-1, 1 and 20 Hz, and the first page's CRC recomputed
  (Ogg CRC-32: polynomial 0x04C11DB7, not reflected, init 0, CRC field zeroed while computing).
- pdf_nested_xobjects.pdf: a one-page PDF whose page draws a Form XObject that draws the next one ten times,
  eight levels deep (10^8 rectangle fills): poppler renders it for hours.
- pdf_smask_bomb.pdf: a 100 x 100 pt page (passes the pixel check) that draws a 30000 x 30000 image with a
  30000 x 30000 soft mask, both Flate-compressed zeros (~3.5 MB on disk): rendering it needs gigabytes.
"""
import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def vorbis_with_rate(rate: int) -> bytes:
    data = bytearray(open(os.path.join(HERE, "audio/vorbis_16k.ogg"), "rb").read())
    assert data[:4] == b"OggS" and data[29:35] == b"vorbis", "unexpected first page"
    data[40:44] = rate.to_bytes(4, "little")
    segments = data[26]
    length = 27 + segments + sum(data[27:27 + segments])
    page = bytearray(data[:length])
    page[22:26] = b"\0\0\0\0"
    data[22:26] = ogg_crc(bytes(page)).to_bytes(4, "little")
    return bytes(data)


def pdf(objects: list) -> bytes:
    """Objects are bytes bodies numbered from 1; object 1 is the catalog."""
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def nested_xobjects(levels: int = 8, fanout: int = 10) -> bytes:
    # 1 catalog, 2 pages, 3 page, 4 page content, 5.. the forms (5 draws 6, ..., the last fills a rectangle).
    first = 5
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R"
        b" /Resources << /XObject << /X 5 0 R >> >> >>",
        stream(b"", b"/X Do"),
    ]
    for level in range(levels):
        number = first + level
        if level == levels - 1:
            body = b"0 0 1 rg " + b" ".join(b"%d %d 10 10 re f" % (i * 10, i * 10) for i in range(fanout))
            resources = b""
        else:
            body = b" ".join(b"q 1 0 0 1 %d 0 cm /X Do Q" % (i % 3) for i in range(fanout))
            resources = b" /Resources << /XObject << /X %d 0 R >> >>" % (number + 1)
        objects.append(stream(b"/Type /XObject /Subtype /Form /BBox [0 0 200 200]" + resources, body))
    return pdf(objects)


def smask_bomb(side: int = 30000) -> bytes:
    zeros = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    def compressed(total: int) -> bytes:
        c = zlib.compressobj(9)
        parts = []
        left = total
        while left > 0:
            n = min(left, len(chunk))
            parts.append(c.compress(chunk[:n]))
            left -= n
        parts.append(c.flush())
        return b"".join(parts)
    image = compressed(side * side * 3)
    mask = compressed(side * side)
    del zeros
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R"
        b" /Resources << /XObject << /Im 5 0 R >> >> >>",
        stream(b"", b"q 100 0 0 100 0 0 cm /Im Do Q"),
        stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB"
               b" /BitsPerComponent 8 /SMask 6 0 R /Filter /FlateDecode" % (side, side), image),
        stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
               b" /BitsPerComponent 8 /Filter /FlateDecode" % (side, side), mask),
    ]
    return pdf(objects)


def main() -> None:
    out = os.path.join(HERE, "hostile")
    for name, rate in [("2e31", 1 << 31), ("2e31m1", (1 << 31) - 1), ("1hz", 1), ("20hz", 20)]:
        open(os.path.join(out, f"vorbis_rate_{name}.ogg"), "wb").write(vorbis_with_rate(rate))
    open(os.path.join(out, "pdf_nested_xobjects.pdf"), "wb").write(nested_xobjects())
    open(os.path.join(out, "pdf_smask_bomb.pdf"), "wb").write(smask_bomb())


if __name__ == "__main__":
    main()
