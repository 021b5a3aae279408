#!/usr/bin/env python3
"""Real-browser tests: converted voice notes play, and the service's signed media URLs work in a tab.

Every accepted voice note in Fixtures/fixtures.json goes through the real `mediaworker process`; each MP3 it
makes is served over HTTP from 127.0.0.1 (with byte ranges, as the service will serve media) and opened by
headless Chromium in a new tab, exactly as an operator opens a voice note. The tab's media element must reach
metadata with no error and a duration within 100 ms of the source's.

Second part: a real `mediaworker serve` gets a voice note and a photo uploaded through the API; their signed
URLs are opened in new tabs under the service's own headers (sandbox CSP, nosniff, ranges): the audio must reach
metadata with the right duration and the image must display (naturalWidth > 0).

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


# Under the service's `sandbox` CSP the page may not run timers, so these probes are synchronous and the
# polling happens here, in Python.
AUDIO_STATE = """
const m = document.querySelector('video, audio');
if (!m) return null;
if (m.error) return {error: m.error.code + ' ' + (m.error.message || '')};
if (m.readyState >= 1 && isFinite(m.duration)) return {duration: m.duration};
return null;
"""
IMAGE_STATE = """
const img = document.querySelector('img');
if (img && img.complete && img.naturalWidth > 0) return {width: img.naturalWidth, height: img.naturalHeight};
return null;
"""


def poll(driver, script, what, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        result = driver.execute_script(script)
        if result:
            return result
        time.sleep(0.05)
    return {"error": f"{what} within {seconds} s"}


def served_checks(binary, driver, out_dir):
    """Upload through the HTTP API, then open the signed URLs as the desk does. Yields (name, ok, detail)."""
    import urllib.request
    data = os.path.join(out_dir, "serve-data")
    env = dict(os.environ, MEDIAWORKER_TOKENS="browser-token", MEDIAWORKER_SIGNING_KEYS="browser-key-8f7e6d5c4b3a29180f1e2d3c4b5a6978",
               MEDIAWORKER_LOG_LEVEL="warning")
    server = subprocess.Popen([binary, "serve", "--port", "0", "--data", data], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        base = server.stdout.readline().strip().split(" ")[-1]

        def api(method, path, body=None):
            req = urllib.request.Request(base + path, data=body, method=method,
                                         headers={"Authorization": "Bearer browser-token"})
            with urllib.request.urlopen(req) as r:
                return json.loads(r.read())

        def upload(rel, query):
            job = api("POST", "/v1/attachments?" + query, open(os.path.join(FIXTURES, rel), "rb").read())
            for _ in range(500):
                job = api("GET", "/v1/jobs/" + job["id"])
                if job["state"] in ("accepted", "rejected", "dead"):
                    return job
                time.sleep(0.02)
            return job

        note = upload("audio/voice_note_15s.ogg", "from=visitor&fileName=PTT-20261125-WA0011.opus")
        photo = upload("images/exif_rotated_gps.jpg", "from=visitor&fileName=IMG-20261125-WA0002.jpg")
        playback = [a for a in note.get("artifacts", []) if a["role"] == "playback"]
        thumb = [a for a in photo.get("artifacts", []) if a["role"] == "thumbnail"]
        original = [a for a in photo.get("artifacts", []) if a["role"] == "original"]
        if not playback or not thumb or not original:
            yield ("served artifacts", False, f"missing: {note.get('state')} {photo.get('state')}")
            return
        checks = [("served voice note", playback[0], AUDIO_STATE), ("served thumbnail", thumb[0], IMAGE_STATE),
                  ("served original photo", original[0], IMAGE_STATE)]
        for name, artifact, probe in checks:
            driver.switch_to.new_window("tab")
            driver.get(base + artifact["url"])
            result = poll(driver, probe, "no metadata" if probe is AUDIO_STATE else "image not displayed")
            if name == "served thumbnail":
                driver.save_screenshot(os.path.join(ROOT, ".build-tools", "served-thumbnail.png"))
            driver.close()
            driver.switch_to.window(driver.window_handles[0])
            if "error" in result:
                yield (name, False, str(result))
            elif "duration" in result:
                got = result["duration"] * 1000
                yield (name, abs(got - artifact["durationMs"]) <= TOLERANCE_MS,
                       f"browser duration {got:.0f} ms, artifact {artifact['durationMs']} ms")
            else:
                want = (artifact.get("width"), artifact.get("height"))
                ok = want == (None, None) or (result["width"], result["height"]) == want
                yield (name, ok, f"displayed {result['width']}x{result['height']}")
    finally:
        server.terminate()
        server.wait(timeout=30)


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
            for name, ok, detail in served_checks(binary, driver, out_dir):
                print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
                passed += ok
                failed += not ok
        finally:
            driver.quit()
            server.shutdown()
        print(f"{passed} passed, {failed} failed")
        sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
