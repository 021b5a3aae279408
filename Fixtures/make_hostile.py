#!/usr/bin/env python3
"""Makes the crafted decoder-attack fixtures under Fixtures/hostile/ (pure Python, deterministic).

    python3 Fixtures/make_hostile.py

- vorbis_rate_*.ogg: Fixtures/audio/vorbis_16k.ogg with the sample rate of its identification header
  (bytes 40-43, little endian) set to 2^31, 2^31-1, 1 and 20 Hz, and the first page's CRC recomputed
  (Ogg CRC-32: polynomial 0x04C11DB7, not reflected, init 0, CRC field zeroed while computing).
- pdf_nested_xobjects.pdf: a one-page PDF whose page draws a Form XObject that draws the next one ten times,
  eight levels deep (10^8 rectangle fills): poppler renders it for hours.
- png_interlaced_49mp.png: 7000 x 7000 (49 MP: passes the 50 MP pixel check) 16-bit RGBA, Adam7-interlaced, all
  zero (~0.4 MB): an interlaced PNG cannot be decoded a strip at a time, so it needs the whole 392 MB image in memory.
  A legitimate worst case: it works under the default helper memory limit, and is the memory test with a smaller one.
- pdf_zip_polyglot.pdf: `%PDF-1.7` + a ZIP archive (a script inside) + `startxref 9 %%EOF`: every reader finds
  what it looks for at the ends, but nothing of a PDF in between. poppler refuses it; it must be corrupt, not an
  "unrenderable PDF" kept and served.
- pdf_wrapped_elf.pdf: `%PDF-1.4` + the ELF program of hostile/tiny_elf + a trailer naming /Encrypt + `startxref`
  + `%%EOF`: claims to need a password; corrupt.
"""
import io
import os
import struct
import zipfile
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


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def interlaced_png(side: int = 7000, bytes_per_pixel: int = 8) -> bytes:
    # Adam7 passes: (x start, y start, x step, y step); every scanline is filter byte 0 + zero samples.
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    c = zlib.compressobj(9)
    parts = []
    for x0, y0, dx, dy in passes:
        width = max(0, (side - x0 + dx - 1) // dx)
        height = max(0, (side - y0 + dy - 1) // dy)
        if width == 0 or height == 0:
            continue
        row = bytes(1 + width * bytes_per_pixel)
        for _ in range(height):
            parts.append(c.compress(row))
    parts.append(c.flush())
    header = side.to_bytes(4, "big") * 2 + bytes([16, 6, 0, 0, 1])  # 16-bit RGBA, Adam7
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", b"".join(parts)) + png_chunk(b"IEND", b"")


def zip_polyglot() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        info = zipfile.ZipInfo("invoice.js", date_time=(2026, 11, 30, 0, 0, 0))
        z.writestr(info, "WScript.Shell.Run('calc.exe')\n")
    return b"%PDF-1.7\n%" + archive.getvalue() + b"\nstartxref\n9\n%%EOF\n"


def wrapped_elf() -> bytes:
    elf = open(os.path.join(HERE, "hostile/tiny_elf"), "rb").read()
    return (b"%PDF-1.4\n" + elf + b"\ntrailer\n<< /Size 2 /Root 1 0 R /Encrypt 1 0 R >>\nstartxref\n9\n%%EOF\n")


def gif_many_frames(frames: int = 3500) -> bytes:
    """A 1x1 GIF of `frames` frames of 20 ms: tiny (23 bytes a frame), over MEDIAWORKER_MAX_FRAMES (3000)."""
    head = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = (b"\x21\xf9\x04\x00\x02\x00\x00\x00"            # graphic control: 2 cs
             + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0)    # image descriptor 1x1
             + b"\x02\x02\x44\x01\x00")                        # LZW: clear, 0, end
    return head + loop + frame * frames + b"\x3b"


def truncated_mp4() -> bytes:
    """The WhatsApp GIF MP4 cut at 60 %: index first, so it demuxes and its first frame decodes."""
    data = open(os.path.join(HERE, "animations", "whatsapp_gif.mp4"), "rb").read()
    return data[: len(data) * 6 // 10]


def main() -> None:
    out = os.path.join(HERE, "hostile")
    for name, rate in [("2e31", 1 << 31), ("2e31m1", (1 << 31) - 1), ("1hz", 1), ("20hz", 20)]:
        open(os.path.join(out, f"vorbis_rate_{name}.ogg"), "wb").write(vorbis_with_rate(rate))
    open(os.path.join(out, "pdf_nested_xobjects.pdf"), "wb").write(nested_xobjects())
    open(os.path.join(out, "png_interlaced_49mp.png"), "wb").write(interlaced_png())
    open(os.path.join(out, "pdf_zip_polyglot.pdf"), "wb").write(zip_polyglot())
    open(os.path.join(out, "pdf_wrapped_elf.pdf"), "wb").write(wrapped_elf())
    open(os.path.join(out, "gif_3500_frames.gif"), "wb").write(gif_many_frames())
    open(os.path.join(out, "mp4_truncated.mp4"), "wb").write(truncated_mp4())


if __name__ == "__main__":
    main()
