#!/usr/bin/env python3
"""Checks safe copies of PDFs with pikepdf (qpdf), independently of the Swift code that wrote them (issue #23).

    check_safe_copy.py COPY.pdf ORIGINAL.pdf [COPY.pdf ORIGINAL.pdf ...]

For each pair, prints one JSON line {"copy":…, "pages":N, "problems":[…]} and exits 1 if any pair has a problem:
- every object of the copy (the trailer and every indirect object, walked recursively through dictionaries, arrays
  and stream dictionaries) is searched for the names /JavaScript /JS /OpenAction /AA /Launch /URI /EmbeddedFile
  /EmbeddedFiles /AcroForm /Annots /Names /XFA /Font /Metadata /Outlines /Encrypt, as keys or as values;
- no document information dictionary (/Info) and no /Encrypt in the trailer;
- each page has only /Type /Parent /MediaBox /Resources /Contents; resources only /XObject, with exactly one image
  XObject, without /SMask or /Mask; its content stream's operators are exactly q cm Do Q, the Do naming that image;
- the page count and each page's size (MediaBox, within 0.5 pt) equal the original's (opened by qpdf, which also
  opens owner-password-only PDFs).
"""
import json
import sys

import pikepdf

FORBIDDEN = {"/JavaScript", "/JS", "/OpenAction", "/AA", "/Launch", "/URI", "/EmbeddedFile", "/EmbeddedFiles",
             "/AcroForm", "/Annots", "/Names", "/XFA", "/Font", "/Metadata", "/Outlines", "/Encrypt"}
PAGE_KEYS = {"/Type", "/Parent", "/MediaBox", "/Resources", "/Contents"}


def walk(obj, path, problems, seen):
    """Every key and name reachable from obj (indirect objects once each)."""
    if isinstance(obj, pikepdf.Object) and obj.is_indirect:
        key = obj.objgen
        if key in seen:
            return
        seen.add(key)
    if isinstance(obj, pikepdf.Name):
        if str(obj) in FORBIDDEN:
            problems.append(f"{path}: the name {obj}")
        return
    if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
        for k in obj.keys():
            if k in FORBIDDEN:
                problems.append(f"{path}: the key {k}")
            walk(obj.get(k), f"{path}{k}", problems, seen)
    elif isinstance(obj, pikepdf.Array):
        for i, item in enumerate(obj):
            walk(item, f"{path}[{i}]", problems, seen)


def box(page):
    b = [float(v) for v in page.obj.MediaBox]
    return (b[2] - b[0], b[3] - b[1])


def check(copy_path, original_path):
    problems = []
    pdf = pikepdf.open(copy_path)
    if pdf.is_encrypted:
        problems.append("the copy is encrypted")
    if "/Info" in pdf.trailer:
        problems.append("the trailer has /Info")
    seen = set()
    walk(pdf.trailer, "trailer", problems, seen)
    for obj in pdf.objects:
        walk(obj, f"obj{obj.objgen if obj.is_indirect else ''}", problems, seen)
    for n, page in enumerate(pdf.pages, start=1):
        extra = set(page.obj.keys()) - PAGE_KEYS
        if extra:
            problems.append(f"page {n} has {sorted(extra)}")
        resources = page.obj.get("/Resources", pikepdf.Dictionary())
        if set(resources.keys()) != {"/XObject"}:
            problems.append(f"page {n} resources are {sorted(resources.keys())}, not only /XObject")
        xobjects = resources.get("/XObject", pikepdf.Dictionary())
        names = list(xobjects.keys())
        if len(names) != 1:
            problems.append(f"page {n} has {len(names)} XObjects")
            continue
        image = xobjects[names[0]]
        if image.get("/Subtype") != pikepdf.Name.Image:
            problems.append(f"page {n}'s XObject is not an image")
        for mask in ("/SMask", "/Mask"):
            if mask in image:
                problems.append(f"page {n}'s image has {mask}")
        operators = [(str(op), operands) for operands, op in pikepdf.parse_content_stream(page)]
        if [op for op, _ in operators] != ["q", "cm", "Do", "Q"]:
            problems.append(f"page {n} content operators {[op for op, _ in operators]}")
        elif list(operators[2][1]) != [pikepdf.Name(names[0])]:
            problems.append(f"page {n} draws {list(operators[2][1])}, not {names[0]}")
    original = pikepdf.open(original_path)
    if len(original.pages) != len(pdf.pages):
        problems.append(f"{len(pdf.pages)} pages, the original has {len(original.pages)}")
    else:
        for n, (a, b) in enumerate(zip(pdf.pages, original.pages), start=1):
            (aw, ah), (bw, bh) = box(a), box(b)
            if abs(aw - bw) > 0.5 or abs(ah - bh) > 0.5:
                problems.append(f"page {n} is {aw} x {ah} pt, the original's {bw} x {bh}")
    return {"copy": copy_path, "pages": len(pdf.pages), "problems": problems}


def main(args):
    if len(args) < 2 or len(args) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    failed = False
    for copy_path, original_path in zip(args[0::2], args[1::2]):
        try:
            result = check(copy_path, original_path)
        except Exception as error:  # a copy qpdf cannot open fails the check
            result = {"copy": copy_path, "pages": 0, "problems": [f"does not open: {error}"]}
        failed = failed or bool(result["problems"])
        print(json.dumps(result))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
