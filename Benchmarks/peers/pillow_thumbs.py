#!/usr/bin/python3
"""Pillow peer of the thumbnail benchmark: the same output as mediaworker (longest side 480 px, never
upscaled, EXIF orientation applied, WebP quality 80, no metadata), done the fast Pillow way.

    /usr/bin/python3 Benchmarks/peers/pillow_thumbs.py OUTDIR FILE... [--procs N]

JPEGs use draft mode (`draft('RGB', (480, 480))`: libjpeg's DCT scaling decodes at 1/2, 1/4 or 1/8 size),
then `ImageOps.exif_transpose`, `thumbnail((480, 480))` and `save(..., 'WEBP', quality=80)` with no `exif`
or `icc_profile` argument, so nothing is copied. Serial by default; `--procs N` uses a process pool of N
(one file per task). Each output is OUTDIR/<input name>.webp. Timing is left to the caller.
"""

import argparse
import os
import sys
from multiprocessing import Pool

from PIL import Image, ImageOps

SIZE = (480, 480)


def thumb(job):
    src, outdir = job
    with Image.open(src) as im:
        if im.format == "JPEG":
            im.draft("RGB", SIZE)
        im = ImageOps.exif_transpose(im)               # rotates and drops the Orientation tag
        if im.mode not in ("RGB", "RGBA"):
            im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
        im.thumbnail(SIZE)                              # Lanczos by default (reducing_gap=2.0), never upscales
        dst = os.path.join(outdir, os.path.basename(src) + ".webp")
        im.save(dst, "WEBP", quality=80, method=4)      # method 4 = libwebp's default effort, like ours
        return im.size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--procs", type=int, default=1, help="process pool size (default 1: serial)")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    jobs = [(f, args.outdir) for f in args.files]
    if args.procs <= 1:
        for job in jobs:
            thumb(job)
    else:
        with Pool(args.procs) as pool:
            pool.map(thumb, jobs, chunksize=1)


if __name__ == "__main__":
    sys.exit(main())
