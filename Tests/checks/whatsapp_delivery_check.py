#!/usr/bin/python3
"""Does FILE meet WhatsApp's published rules for outbound media sent as SENDAS?

Usage: whatsapp_delivery_check.py FILE video|image|document

An independent reader of the Cloud API's supported media types
(developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types), written without the
service's code:

- video: MP4 (not QuickTime) with exactly one H.264 video stream, yuv420p, even width and height; no audio
  stream or exactly one AAC one; no more than 16,000,000 bytes; and the top-level boxes, walked here in Python,
  have `moov` before `mdat` (progressive playback). Stream facts come from ffprobe's JSON.
- image: JPEG (markers walked here: SOF0/SOF1/SOF2, 8-bit precision, 1 or 3 components, no APP1 Exif/XMP, no
  APP2 ICC profile) or PNG (chunks walked here: IHDR bit depth 8, no eXIf or iCCP; text chunks are allowed), no
  more than 5,000,000 bytes.
- document: starts with `%PDF-`, no more than 100,000,000 bytes.

Prints one JSON line {"ok": bool, "problems": [...], "facts": {...}} and exits 0 when ok, 1 when not, 2 on
usage errors. Only the standard library and /usr/bin/ffprobe are needed.
"""
import json
import os
import struct
import subprocess
import sys
import zlib

VIDEO_MAX = 16_000_000
IMAGE_MAX = 5_000_000
DOCUMENT_MAX = 100_000_000


# --------------------------------------------------------------------------- MP4 boxes

def top_level_boxes(data):
    """[(type, offset, size)] of the top-level ISO-BMFF boxes; raises ValueError on a malformed walk."""
    boxes, pos = [], 0
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError(f"{len(data) - pos} stray bytes after the last box at {pos}")
        size, typ = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > len(data):
                raise ValueError(f"truncated 64-bit box size at {pos}")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = len(data) - pos
        if size < header or pos + size > len(data):
            raise ValueError(f"box {typ!r} at {pos} claims {size} bytes, {len(data) - pos} left")
        boxes.append((typ.decode("latin-1"), pos, size))
        pos += size
    return boxes


def check_video(path, data, problems, facts):
    if len(data) > VIDEO_MAX:
        problems.append(f"{len(data)} bytes is over the {VIDEO_MAX}-byte video limit")
    try:
        boxes = top_level_boxes(data)
    except ValueError as e:
        problems.append(f"not an MP4 box structure: {e}")
        boxes = []
    names = [b[0] for b in boxes]
    facts["boxes"] = names
    if boxes:
        if names[0] != "ftyp":
            problems.append(f"first box is {names[0]!r}, not 'ftyp'")
        else:
            _, off, size = boxes[0]
            brand = data[off + 8:off + 12].decode("latin-1")
            compatible = [data[i:i + 4].decode("latin-1") for i in range(off + 16, off + size - 3, 4)]
            facts["majorBrand"] = brand
            facts["compatibleBrands"] = compatible
            if brand == "qt  ":
                problems.append("QuickTime file (major brand 'qt  '), not MP4")
        if "moov" not in names:
            problems.append("no top-level 'moov' box")
        if "mdat" not in names:
            problems.append("no top-level 'mdat' box")
        if "moov" in names and "mdat" in names and names.index("moov") > names.index("mdat"):
            problems.append("'moov' comes after 'mdat' (not fast-start: cannot play before fully downloaded)")

    r = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        problems.append("ffprobe cannot read it: " + r.stderr.strip()[:300])
        return
    probe = json.loads(r.stdout)
    fmt = probe.get("format", {})
    facts["formatName"] = fmt.get("format_name")
    if "duration" in fmt:
        facts["durationMs"] = int(float(fmt["duration"]) * 1000 + 0.5)
    streams = probe.get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video"]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    other = [s for s in streams if s.get("codec_type") not in ("video", "audio")]
    facts["streams"] = [{k: s.get(k) for k in ("codec_type", "codec_name", "pix_fmt", "width", "height", "profile")
                         if s.get(k) is not None} for s in streams]
    if "mp4" not in (fmt.get("format_name") or "").split(","):
        problems.append(f"ffprobe format {fmt.get('format_name')!r} is not mp4")
    if len(video) != 1:
        problems.append(f"{len(video)} video streams, expected exactly 1")
    for v in video:
        if v.get("codec_name") != "h264":
            problems.append(f"video codec {v.get('codec_name')}, expected h264")
        if v.get("pix_fmt") != "yuv420p":
            problems.append(f"pixel format {v.get('pix_fmt')}, expected yuv420p")
        w, h = v.get("width") or 0, v.get("height") or 0
        facts["width"], facts["height"] = w, h
        if w <= 0 or h <= 0 or w % 2 or h % 2:
            problems.append(f"video is {w}x{h}: width and height must be even (and non-zero)")
    if len(audio) > 1:
        problems.append(f"{len(audio)} audio streams, at most 1 allowed")
    for a in audio:
        if a.get("codec_name") != "aac":
            problems.append(f"audio codec {a.get('codec_name')}, only aac is allowed")
    if other:
        problems.append("other streams: " + ", ".join(f"{s.get('codec_type')}/{s.get('codec_name')}" for s in other))


# --------------------------------------------------------------------------- JPEG / PNG

SOF_NAMES = {0xC0: "SOF0 baseline", 0xC1: "SOF1 extended sequential", 0xC2: "SOF2 progressive",
             0xC3: "SOF3 lossless", 0xC5: "SOF5", 0xC6: "SOF6", 0xC7: "SOF7", 0xC9: "SOF9 arithmetic",
             0xCA: "SOF10 arithmetic progressive", 0xCB: "SOF11", 0xCD: "SOF13", 0xCE: "SOF14", 0xCF: "SOF15"}


def check_jpeg(data, problems, facts):
    facts["format"] = "jpeg"
    pos, segments, sof = 2, [], None
    while True:
        if pos + 2 > len(data):
            problems.append("JPEG ends before the scan (no SOS)")
            break
        if data[pos] != 0xFF:
            problems.append(f"expected a marker at offset {pos}, found 0x{data[pos]:02x}")
            break
        marker = data[pos + 1]
        if marker == 0xFF:              # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD8, 0xD9):
            problems.append(f"unexpected marker FF{marker:02X} before the scan")
            break
        if pos + 4 > len(data):
            problems.append("truncated segment header")
            break
        length = struct.unpack_from(">H", data, pos + 2)[0]
        if length < 2 or pos + 2 + length > len(data):
            problems.append(f"segment FF{marker:02X} at {pos} has a bad length {length}")
            break
        body = data[pos + 4:pos + 2 + length]
        if 0xE0 <= marker <= 0xEF:
            ident = body[:body.find(b"\0")] if b"\0" in body[:40] else body[:12]
            name = f"APP{marker - 0xE0}"
            segments.append(f"{name}:{ident.decode('latin-1', 'replace')}")
            if marker == 0xE1:
                if body.startswith(b"Exif\0"):
                    problems.append("APP1 Exif segment (metadata must be stripped)")
                elif body.startswith(b"http://ns.adobe.com/xap/1.0/") or body.startswith(b"http://ns.adobe.com/xmp"):
                    problems.append("APP1 XMP segment (metadata must be stripped)")
                else:
                    problems.append(f"APP1 segment {ident[:30]!r}")
            elif marker == 0xE2:
                if body.startswith(b"ICC_PROFILE\0"):
                    problems.append("APP2 ICC profile (the image must be plain sRGB without a profile)")
                else:
                    problems.append(f"APP2 segment {ident[:30]!r}")
            elif marker == 0xED:
                facts["app13"] = True       # Photoshop/IPTC: reported, not one of WhatsApp's rules
        elif marker in SOF_NAMES:
            if len(body) < 6:
                problems.append("truncated SOF segment")
                break
            precision, height, width, comps = struct.unpack_from(">BHHB", body, 0)
            sof = marker
            facts.update(sof=SOF_NAMES[marker], precision=precision, width=width, height=height, components=comps)
            if marker not in (0xC0, 0xC1, 0xC2):
                problems.append(f"{SOF_NAMES[marker]}: only baseline, extended sequential or progressive "
                                "Huffman JPEG")
            if precision != 8:
                problems.append(f"{precision}-bit samples, expected 8")
            if comps not in (1, 3):
                problems.append(f"{comps} components (CMYK/YCCK?), expected 1 (grey) or 3 (YCbCr)")
            if width == 0 or height == 0:
                problems.append(f"SOF says {width}x{height}")
        elif marker == 0xDA:
            break
        pos += 2 + length
    facts["segments"] = segments
    if sof is None and not problems:
        problems.append("no SOF marker before the scan")
    if not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        problems.append("no EOI marker at the end")


PNG_SIG = b"\x89PNG\r\n\x1a\n"


def check_png(data, problems, facts):
    facts["format"] = "png"
    pos, chunks = 8, []
    while pos + 12 <= len(data):
        length, typ = struct.unpack_from(">I4s", data, pos)
        if pos + 12 + length > len(data):
            problems.append(f"chunk {typ!r} at {pos} runs past the end")
            break
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack_from(">I", data, pos + 8 + length)[0]
        if zlib.crc32(typ + body) != crc:
            problems.append(f"chunk {typ.decode('latin-1')} at {pos} has a bad CRC")
        name = typ.decode("latin-1")
        chunks.append(name)
        if name == "IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body[:13])
            facts.update(width=w, height=h, bitDepth=depth, colorType=ctype, interlaced=bool(interlace))
            if depth != 8:
                problems.append(f"bit depth {depth}, expected 8")
        elif name == "eXIf":
            problems.append("eXIf chunk (metadata must be stripped)")
        elif name == "iCCP":
            problems.append("iCCP chunk (the image must be plain sRGB without a profile)")
        pos += 12 + length
        if name == "IEND":
            break
    runs = []                               # consecutive repeats collapsed: IDAT, IDAT, IDAT -> IDATx3
    for name in chunks:
        if runs and runs[-1][0] == name:
            runs[-1][1] += 1
        else:
            runs.append([name, 1])
    facts["chunks"] = [n if c == 1 else f"{n}x{c}" for n, c in runs]
    if not chunks or chunks[0] != "IHDR":
        problems.append("IHDR is not the first chunk")
    if "IDAT" not in chunks:
        problems.append("no IDAT chunk")
    if not chunks or chunks[-1] != "IEND":
        problems.append("no IEND chunk")
    if "acTL" in chunks:
        problems.append("animated PNG (acTL)")


def check_image(data, problems, facts):
    if len(data) > IMAGE_MAX:
        problems.append(f"{len(data)} bytes is over the {IMAGE_MAX}-byte image limit")
    if data[:3] == b"\xff\xd8\xff":
        check_jpeg(data, problems, facts)
    elif data[:8] == PNG_SIG:
        check_png(data, problems, facts)
    else:
        problems.append(f"neither JPEG nor PNG (starts with {data[:8]!r})")


def check_document(data, problems, facts):
    if len(data) > DOCUMENT_MAX:
        problems.append(f"{len(data)} bytes is over the {DOCUMENT_MAX}-byte document limit")
    if not data.startswith(b"%PDF-"):
        problems.append(f"does not start with %PDF- (starts with {data[:8]!r})")
    else:
        facts["format"] = "pdf"
        facts["version"] = data[5:8].decode("latin-1", "replace")


def check(path, send_as):
    """(ok, problems, facts) for the file at path sent as send_as."""
    with open(path, "rb") as f:
        data = f.read()
    problems, facts = [], {"size": len(data), "sendAs": send_as}
    if not data:
        problems.append("empty file")
    elif send_as == "video":
        check_video(path, data, problems, facts)
    elif send_as == "image":
        check_image(data, problems, facts)
    elif send_as == "document":
        check_document(data, problems, facts)
    return not problems, problems, facts


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("video", "image", "document"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    if not os.path.isfile(sys.argv[1]):
        print(f"no such file: {sys.argv[1]}", file=sys.stderr)
        sys.exit(2)
    ok, problems, facts = check(sys.argv[1], sys.argv[2])
    print(json.dumps({"ok": ok, "problems": problems, "facts": facts}, separators=(",", ":")))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
