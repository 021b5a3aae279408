#!/usr/bin/env python3
"""Real-browser test of safe copies (issue #23): a real `mediaworker serve` gets the hostile PDF
(Fixtures/hostile/pdf_active_content.pdf) from a visitor; its job must carry a `safe_copy` of 2 pages, served
`inline` as application/pdf under a CSP without `sandbox` (which keeps PDF viewers out) that still allows no script
(`default-src 'none'`), while the original stays an `attachment` under the sandbox CSP. The copy's bytes pass
Tests/safecopy/check_safe_copy.py, and headless Chromium opens the signed URL in a tab and shows it in its PDF viewer:
the viewer's dark toolbar across the top and a page that is not blank (the screenshot is kept when a check fails).

Usage: safe_copy_test.py MEDIAWORKER_BINARY
Prints one line per check, then "N passed, N failed"; exits non-zero on any failure.
"""
import io
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from PIL import Image, ImageStat
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from playback_test import ROOT, running_service  # noqa: E402  (the same service runner)

CHECKER = os.path.join(ROOT, "Tests", "safecopy", "check_safe_copy.py")
HOSTILE = "hostile/pdf_active_content.pdf"


def headers(base, url):
    with urllib.request.urlopen(base + url) as r:
        return dict(r.headers), r.read()


def checks(binary, driver, out_dir):
    with running_service(binary, os.path.join(out_dir, "data")) as service:
        job = service.upload(HOSTILE, "from=visitor&declaredType=application/pdf&fileName=invoice.pdf")
        yield "job accepted", job["state"] == "accepted", job["state"]
        roles = {a["role"]: a for a in job.get("artifacts", [])}
        copy = roles.get("safe_copy")
        yield "safe_copy artifact of 2 pages", bool(copy) and copy.get("pages") == 2 and copy["contentType"] == "application/pdf", \
            f"{copy}"
        if not copy:
            return
        h, body = headers(service.base, copy["url"])
        csp = h.get("Content-Security-Policy", "")
        yield "copy served inline as application/pdf", h.get("Content-Type") == "application/pdf" and \
            h.get("Content-Disposition", "").startswith("inline;"), f"{h.get('Content-Type')} {h.get('Content-Disposition')}"
        yield "copy's CSP: no sandbox, no script", "sandbox" not in csp and "default-src 'none'" in csp and \
            "script-src" not in csp and "unsafe-eval" not in csp, csp
        path = os.path.join(out_dir, "copy.pdf")
        open(path, "wb").write(body)
        original_path = os.path.join(ROOT, "Fixtures", HOSTILE)
        walk = subprocess.run([sys.executable, CHECKER, path, original_path], capture_output=True, text=True)
        yield "copy passes the pikepdf walk", walk.returncode == 0, walk.stdout.strip()
        oh, _ = headers(service.base, roles["original"]["url"])
        yield "original stays an attachment under the sandbox CSP", \
            oh.get("Content-Disposition", "").startswith("attachment;") and "sandbox" in oh.get("Content-Security-Policy", ""), \
            f"{oh.get('Content-Disposition')} | {oh.get('Content-Security-Policy')}"

        driver.switch_to.new_window("tab")  # as an operator opens the copy from the desk
        driver.get(service.base + copy["url"])
        shown = None
        for _ in range(40):  # the viewer draws within a few seconds
            time.sleep(0.25)
            shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
            width, height = shot.size
            toolbar = ImageStat.Stat(shot.crop((0, 0, width, 40))).mean
            page = ImageStat.Stat(shot.crop((width // 3, 60, width - 20, height // 2))).stddev
            shown = (max(toolbar), max(page))
            if max(toolbar) < 110 and max(page) > 5:
                break
        ok = shown is not None and shown[0] < 110 and shown[1] > 5
        if not ok:
            shot.save(os.path.join(ROOT, ".build", "safe-copy-chromium.png"))
        yield "Chromium shows the copy in its PDF viewer", ok, \
            f"toolbar brightness {shown[0]:.0f} (dark < 110), page contrast {shown[1]:.1f} (drawn > 5)"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    options = Options()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,900"]:
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    counts = {"passed": 0, "failed": 0}
    try:
        driver.get("about:blank")
        with tempfile.TemporaryDirectory(prefix="mw-safecopy-") as out_dir:
            for name, ok, detail in checks(binary, driver, out_dir):
                print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
                counts["passed" if ok else "failed"] += 1
    finally:
        driver.quit()
    print(f"{counts['passed']} passed, {counts['failed']} failed")
    sys.exit(1 if counts["failed"] else 0)


if __name__ == "__main__":
    main()
