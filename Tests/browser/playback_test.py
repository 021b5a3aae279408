#!/usr/bin/env python3
"""Real-browser playback test for converted voice notes.

Every accepted voice note in Fixtures/fixtures.json goes through the real `mediaworker process`; each MP3 it
makes is served over HTTP from 127.0.0.1 (with byte ranges, as the service will serve media) and opened by
headless Chromium in a new tab, exactly as an operator opens a voice note. The tab's media element must reach
metadata with no error and a duration within 100 ms of the source's.

Usage: playback_test.py MEDIAWORKER_BINARY
Prints one line per note, then "N passed, N failed"; exits non-zero on any failure.
"""
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "Fixtures")
TOLERANCE_MS = 100


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with single byte ranges (Chromium probes media with Range requests)."""

    def log_message(self, *args):
        pass

    def send_head(self):
        path = self.translate_path(self.path.split("?")[0])
        if not os.path.isfile(path):
            self.send_error(404)
            return None
        size = os.path.getsize(path)
        f = open(path, "rb")
        start, end = 0, size - 1
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if m and (m.group(1) or m.group(2)):
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:
                start = max(0, size - int(m.group(2)))
            if start >= size or start > end:
                f.close()
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return None
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        f.seek(start)
        self.range_left = end - start + 1
        return f

    def copyfile(self, source, outputfile):
        left = self.range_left
        while left > 0:
            chunk = source.read(min(65536, left))
            if not chunk:
                break
            outputfile.write(chunk)
            left -= len(chunk)


def convert_all(binary, out_dir):
    manifest = json.load(open(os.path.join(FIXTURES, "fixtures.json")))
    notes = []
    for f in manifest["fixtures"]:
        e = f["expect"]
        if e.get("status") != "accepted" or e.get("kind") != "voice_note" or "playback" not in e:
            continue
        folder = os.path.join(out_dir, f["id"])
        r = subprocess.run([binary, "process", os.path.join(FIXTURES, f["file"]), "--from", f["from"], "--out", folder],
                           capture_output=True, text=True, check=True)
        outcome = json.loads(r.stdout)
        playback = [a for a in outcome.get("artifacts", []) if a["role"] == "playback"]
        if outcome["status"] != "accepted" or not playback:
            notes.append((f["id"], None, e["playback"]["durationMs"]))
            continue
        notes.append((f["id"], os.path.relpath(playback[0]["path"], out_dir), e["playback"]["durationMs"]))
    return notes


PROBE = """
const done = arguments[arguments.length - 1];
const deadline = Date.now() + 10000;
(function poll() {
  const m = document.querySelector('video, audio');
  if (m && m.error) { done({error: m.error.code + ' ' + (m.error.message || '')}); return; }
  if (m && m.readyState >= 1 && isFinite(m.duration)) {
    done({duration: m.duration, readyState: m.readyState, contentType: document.contentType}); return;
  }
  if (Date.now() > deadline) { done({error: 'no metadata within 10 s', readyState: m ? m.readyState : -1}); return; }
  setTimeout(poll, 50);
})();
"""


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="mw-browser-") as out_dir:
        notes = convert_all(binary, out_dir)
        handler = lambda *a, **k: RangeHandler(*a, directory=out_dir, **k)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]

        options = Options()
        for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--autoplay-policy=no-user-gesture-required", "--mute-audio"]:
            options.add_argument(arg)
        options.binary_location = "/usr/bin/chromium"
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.set_script_timeout(15)
        passed = failed = 0
        try:
            driver.get("about:blank")
            for note_id, rel, expected_ms in notes:
                if rel is None:
                    print(f"FAIL {note_id}: no playback artifact")
                    failed += 1
                    continue
                driver.switch_to.new_window("tab")  # as an operator opens a voice note
                driver.get(f"http://127.0.0.1:{port}/{rel}")
                result = driver.execute_async_script(PROBE)
                driver.close()
                driver.switch_to.window(driver.window_handles[0])
                if "error" in result:
                    print(f"FAIL {note_id}: {result}")
                    failed += 1
                    continue
                got_ms = result["duration"] * 1000
                ok = abs(got_ms - expected_ms) <= TOLERANCE_MS
                print(f"{'ok  ' if ok else 'FAIL'} {note_id}: browser duration {got_ms:.0f} ms, source {expected_ms} ms")
                passed += ok
                failed += not ok
        finally:
            driver.quit()
            server.shutdown()
        print(f"{passed} passed, {failed} failed")
        sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
