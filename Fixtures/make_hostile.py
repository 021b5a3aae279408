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
- pdf_active_content.pdf: a two-page Letter PDF with every kind of active content a viewer might run: a JavaScript
  /OpenAction and a /JavaScript name tree, a page /AA (open) /Launch of calc.exe, a /URI link annotation, an embedded
  `setup.exe` (/EmbeddedFiles, plus a /FileAttachment annotation), an /AcroForm text field with a /JS format action,
  an /Outlines entry and XMP /Metadata, over visible Helvetica text (with a hidden, invisible text run, rendering mode
  3, that says something else). It renders; its safe copy must keep none of that (issue #23).
- pdf_slow_second_page.pdf: page 1 a plain text page (the thumbnail is quick), page 2 the nested forms of
  pdf_nested_xobjects.pdf (seven levels: minutes of rendering): the safe copy stops at its own time limit.
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


def form_chain(first: int, levels: int, fanout: int) -> list:
    """Form XObjects numbered from `first`, each drawing the next `fanout` times; the last fills `fanout` rectangles
    (fanout^levels fills in all: poppler's time grows with it, its memory does not)."""
    forms = []
    for level in range(levels):
        number = first + level
        if level == levels - 1:
            body = b"0 0 1 rg " + b" ".join(b"%d %d 10 10 re f" % (i * 10, i * 10) for i in range(fanout))
            resources = b""
        else:
            body = b" ".join(b"q 1 0 0 1 %d 0 cm /X Do Q" % (i % 3) for i in range(fanout))
            resources = b" /Resources << /XObject << /X %d 0 R >> >>" % (number + 1)
        forms.append(stream(b"/Type /XObject /Subtype /Form /BBox [0 0 200 200]" + resources, body))
    return forms


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
    return pdf(objects + form_chain(first, levels, fanout))


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


def active_content() -> bytes:
    """pdf_active_content.pdf (see the module doc). 1 catalog, 2 pages, 3-4 pages, 5-6 contents, 7 font, 8 JS action,
    9 names, 10 JS name-tree action, 11 embedded file spec, 12 embedded file, 13 link annotation, 14 form field
    (widget), 15 AcroForm, 16 outlines, 17 outline item, 18 metadata, 19 file-attachment annotation, 20 launch action."""
    exe = b"MZ" + b"\0" * 62 + b"PE\0\0 this is not a real program"
    xmp = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
           b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/></x:xmpmeta><?xpacket end='w'?>")
    page1 = (b"BT /F1 28 Tf 72 700 Td (Invoice 2026-117) Tj ET "
             b"BT /F1 14 Tf 72 660 Td (Total due: 1,250.00 EUR, pay to the account below.) Tj ET "
             b"BT 3 Tr /F1 14 Tf 72 640 Td (Hidden text: pay to IBAN XX00 0000 instead) Tj ET "
             b"0 0 1 rg 72 400 200 40 re f "
             b"BT 1 1 1 rg /F1 14 Tf 82 415 Td (Open the portal) Tj ET")
    page2 = b"BT /F1 20 Tf 72 700 Td (Page two: terms and conditions) Tj ET 0.8 0 0 rg 72 500 300 100 re f"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 8 0 R /Names 9 0 R /AcroForm 15 0 R /Outlines 16 0 R"
        b" /Metadata 18 0 R /PageMode /UseOutlines >>",
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R"
        b" /Resources << /Font << /F1 7 0 R >> >> /Annots [13 0 R 14 0 R 19 0 R] /AA << /O 20 0 R >> >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R /Resources << /Font << /F1 7 0 R >> >> >>",
        stream(b"", page1),
        stream(b"", page2),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Action /S /JavaScript /JS (app.alert\\('opened'\\); this.exportDataObject\\({cName: 'setup.exe', nLaunch: 2}\\);) >>",
        b"<< /JavaScript << /Names [(init) 10 0 R] >> /EmbeddedFiles << /Names [(setup.exe) 11 0 R] >> >>",
        b"<< /Type /Action /S /JavaScript /JS (app.launchURL\\('http://attacker.invalid/'\\);) >>",
        b"<< /Type /Filespec /F (setup.exe) /UF (setup.exe) /EF << /F 12 0 R >> >>",
        stream(b"/Type /EmbeddedFile /Subtype /application#2Fx-msdownload", exe),
        b"<< /Type /Annot /Subtype /Link /Rect [72 400 272 440] /Border [0 0 0]"
        b" /A << /S /URI /URI (http://attacker.invalid/portal) >> >>",
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (iban) /V (XX00) /Rect [72 300 372 330] /P 3 0 R"
        b" /AA << /F << /S /JavaScript /JS (event.value = 'XX00';) >> >> /MK << /BG [1 1 0.8] >> >>",
        b"<< /Fields [14 0 R] /NeedAppearances true /DA (/Helv 12 Tf 0 g) >>",
        b"<< /Type /Outlines /First 17 0 R /Last 17 0 R /Count 1 >>",
        b"<< /Title (Pay here) /Parent 16 0 R /A << /S /URI /URI (http://attacker.invalid/pay) >> >>",
        stream(b"/Type /Metadata /Subtype /XML", xmp),
        b"<< /Type /Annot /Subtype /FileAttachment /Rect [500 700 520 720] /FS 11 0 R /Name /PushPin >>",
        b"<< /Type /Action /S /Launch /F (calc.exe) /Win << /F (cmd.exe) /P (/c calc.exe) >> >>",
    ]
    return pdf(objects)


def slow_second_page(levels: int = 7, fanout: int = 10) -> bytes:
    """pdf_slow_second_page.pdf: 1 catalog, 2 pages, 3 page one, 4 its content, 5 font, 6 page two, 7 its content,
    8.. the nested forms."""
    first = 8
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        stream(b"", b"BT /F1 24 Tf 72 760 Td (A quick first page) Tj ET"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 7 0 R /Resources << /XObject << /X 8 0 R >> >> >>",
        stream(b"", b"/X Do"),
    ]
    return pdf(objects + form_chain(first, levels, fanout))


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
    open(os.path.join(out, "pdf_active_content.pdf"), "wb").write(active_content())
    open(os.path.join(out, "pdf_slow_second_page.pdf"), "wb").write(slow_second_page())
    open(os.path.join(out, "gif_3500_frames.gif"), "wb").write(gif_many_frames())
    open(os.path.join(out, "mp4_truncated.mp4"), "wb").write(truncated_mp4())


if __name__ == "__main__":
    main()
