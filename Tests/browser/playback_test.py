#!/usr/bin/env python3
"""Real-browser tests: converted voice notes play, and the service's signed media URLs work in a tab.

Every accepted voice note in Fixtures/fixtures.json goes through the real `mediaworker process`; each MP3 it
makes is served over HTTP from 127.0.0.1 (with byte ranges, as the service will serve media) and opened by
headless Chromium in a new tab, exactly as an operator opens a voice note. The tab's media element must reach
metadata with no error and a duration within 100 ms of the source's.

Second part: a real `mediaworker serve` gets a voice note and a photo uploaded through the API; their signed
URLs are opened in new tabs under the service's own headers (sandbox CSP, nosniff, ranges): the audio must reach
metadata with the right duration and the image must display (naturalWidth > 0).

Third part (issue #12, `animation_checks`): a visitor's WhatsApp GIF (MP4) and phone clip (.mov) and an operator's
animated GIF are uploaded; their playback / delivery MP4s are opened in new tabs and must reach metadata with a
duration within 150 ms of the fixture's, and each must pass Tests/checks/whatsapp_delivery_check.py. A visitor's
two WebP stickers are uploaded and their original and thumbnail must display. When this Chromium cannot play
H.264, the video checks are reported as SKIP (not failures).

Usage: playback_test.py MEDIAWORKER_BINARY [--animations-only]
Prints one line per check, then "N passed, N failed" (", N skipped" when some were); exits non-zero on any failure.
"""
import contextlib
import importlib.util
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "Fixtures")
TOLERANCE_MS = 100
VIDEO_TOLERANCE_MS = 150


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


class MediaWorker:
    """A real `mediaworker serve` on a free loopback port with its own data folder, and the gateway's calls."""

    FINAL = ("accepted", "rejected", "dead")

    def __init__(self, binary, data):
        env = dict(os.environ, MEDIAWORKER_TOKENS="browser-token",
                   MEDIAWORKER_SIGNING_KEYS="browser-key-8f7e6d5c4b3a29180f1e2d3c4b5a6978", MEDIAWORKER_LOG_LEVEL="warning")
        self.process = subprocess.Popen([binary, "serve", "--port", "0", "--data", data], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=env, text=True)
        self.base = self.process.stdout.readline().strip().split(" ")[-1]

    def api(self, method, path, body=None):
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers={"Authorization": "Bearer browser-token"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def submit(self, rel, query):
        """POST the fixture's bytes; the new job as the API answers it."""
        return self.api("POST", "/v1/attachments?" + query, open(os.path.join(FIXTURES, rel), "rb").read())

    def wait(self, job, seconds=30):
        """Poll the job until it is final or `seconds` pass; the last state seen."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            job = self.api("GET", "/v1/jobs/" + job["id"])
            if job["state"] in self.FINAL:
                return job
            time.sleep(0.02)
        return job

    def upload(self, rel, query, seconds=30):
        return self.wait(self.submit(rel, query), seconds)

    def fetch(self, url):
        """An artifact's bytes through its signed URL (no bearer token, as the desk fetches it)."""
        with urllib.request.urlopen(self.base + url) as r:
            return r.read()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


@contextlib.contextmanager
def running_service(binary, data):
    service = MediaWorker(binary, data)
    try:
        yield service
    finally:
        service.stop()


def served_checks(binary, driver, out_dir):
    """Upload through the HTTP API, then open the signed URLs as the desk does. Yields (name, ok, detail)."""
    with running_service(binary, os.path.join(out_dir, "serve-data")) as service:
        base, upload = service.base, service.upload
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


# --------------------------------------------------------------------------- issue #12: animations and stickers

VIDEO_STATE = """
const m = document.querySelector('video');
if (!m) return null;
if (m.error) return {error: m.error.code + ' ' + (m.error.message || '')};
if (m.readyState >= 1 && isFinite(m.duration)) return {duration: m.duration, readyState: m.readyState,
                                                       width: m.videoWidth, height: m.videoHeight};
return null;
"""
H264_SUPPORT = """
const v = document.createElement('video');
return [v.canPlayType('video/mp4; codecs="avc1.42E01E"'), v.canPlayType('video/mp4; codecs="avc1.4D401E"'),
        v.canPlayType('video/mp4; codecs="avc1.64001F"')];
"""
# (fixture id, the artifact to open in a tab). The fixture gives the sender, names and expected duration.
VIDEO_CASES = [("mp4-whatsapp-gif", "playback"), ("mov-phone-gif", "playback"), ("gif-operator-animated", "delivery")]
STICKER_CASES = ["webp-sticker-static", "webp-sticker-animated"]


def load_checker():
    """Tests/checks/whatsapp_delivery_check.py, the independent reader of WhatsApp's media rules."""
    path = os.path.join(ROOT, "Tests", "checks", "whatsapp_delivery_check.py")
    spec = importlib.util.spec_from_file_location("whatsapp_delivery_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def submit_fixture(service, fixture):
    query = {"from": fixture["from"]}
    for key in ("declaredType", "fileName"):
        if fixture.get(key):
            query[key] = fixture[key]
    return service.submit(fixture["file"], urllib.parse.urlencode(query))


def open_in_new_tab(driver, url, probe, what, seconds=15):
    """Opens url in a new tab (as the desk opens media), polls probe there, closes the tab."""
    driver.switch_to.new_window("tab")
    try:
        driver.get(url)
        return poll(driver, probe, what, seconds)
    finally:
        driver.close()
        driver.switch_to.window(driver.window_handles[0])


def animation_checks(binary, driver, out_dir):
    """Issue #12 in a real browser. Yields (name, ok, detail); ok is None for a check skipped with a reason."""
    fixtures = {f["id"]: f for f in json.load(open(os.path.join(FIXTURES, "fixtures.json")))["fixtures"]}
    missing = [i for i in [c[0] for c in VIDEO_CASES] + STICKER_CASES if i not in fixtures]
    if missing:
        yield ("animation fixtures", False, f"not in Fixtures/fixtures.json: {missing} (run Fixtures/make_animations.py)")
        return
    checker = load_checker()
    support = driver.execute_script(H264_SUPPORT)
    h264 = any(support)
    with running_service(binary, os.path.join(out_dir, "serve-data-animations")) as service:
        # Upload everything first: the jobs run in the service's workers while the browser checks go on.
        jobs = {}
        for fixture_id in [c[0] for c in VIDEO_CASES] + STICKER_CASES:
            try:
                jobs[fixture_id] = submit_fixture(service, fixtures[fixture_id])
            except urllib.error.HTTPError as e:
                jobs[fixture_id] = {"state": f"upload refused with {e.code}", "outcome": e.read()[:300]}
        deadline = time.time() + 180      # re-encoding on a loaded 2-core machine
        for fixture_id, job in jobs.items():
            if "id" in job:
                jobs[fixture_id] = service.wait(job, seconds=max(1, deadline - time.time()))

        for fixture_id, role in VIDEO_CASES:
            fixture, job = fixtures[fixture_id], jobs[fixture_id]
            name = f"{fixture_id} {role}"
            want_ms = fixture["expect"][role]["durationMs"]
            artifact = next((a for a in job.get("artifacts", []) if a["role"] == role), None)
            if job.get("state") != "accepted" or artifact is None:
                yield (name, False, f"job {job.get('state')} {job.get('outcome')}, no {role} artifact")
                continue
            kind_ok = artifact.get("contentType") == "video/mp4" and (role != "delivery" or artifact.get("sendAs") == "video")
            if not kind_ok:
                yield (name, False, f"artifact is {artifact.get('contentType')} sendAs {artifact.get('sendAs')}")
                continue
            path = os.path.join(out_dir, f"{fixture_id}-{role}.mp4")
            try:
                with open(path, "wb") as f:
                    f.write(service.fetch(artifact["url"]))
            except urllib.error.HTTPError as e:
                yield (name, False, f"GET {artifact['url']}: {e.code}")
                continue
            # The bytes, read independently (ffprobe + box walk); the duration is checked here too, so a lost
            # frame timing shows even where the browser checks are skipped.
            ok, problems, facts = checker.check(path, "video")
            probed = facts.get("durationMs")
            if probed is None or abs(probed - want_ms) > VIDEO_TOLERANCE_MS:
                problems = problems + [f"ffprobe duration {probed} ms, fixture {want_ms} ms"]
            yield (f"{name} meets WhatsApp's video rules", not problems,
                   f"{facts.get('width')}x{facts.get('height')} {probed} ms {facts.get('size')} bytes"
                   + (f"; {problems}" if problems else ""))
            if not h264:
                yield (f"{name} plays in Chromium", None, f"this Chromium cannot play H.264 MP4 (canPlayType: {support})")
                continue
            result = open_in_new_tab(driver, service.base + artifact["url"], VIDEO_STATE, "no video metadata")
            if "error" in result:
                yield (f"{name} plays in Chromium", False, str(result))
                continue
            got = result["duration"] * 1000
            ok = abs(got - want_ms) <= VIDEO_TOLERANCE_MS and result["width"] > 0 and result["height"] > 0
            yield (f"{name} plays in Chromium", ok,
                   f"readyState {result['readyState']}, {result['width']}x{result['height']}, browser duration "
                   f"{got:.0f} ms, fixture {want_ms} ms, artifact {artifact.get('durationMs')} ms")

        for fixture_id in STICKER_CASES:
            job = jobs[fixture_id]
            kind = (job.get("outcome") or {}).get("kind")
            if job.get("state") != "accepted" or kind != "sticker":
                yield (fixture_id, False, f"job {job.get('state')}, kind {kind}: {job.get('outcome')}")
                continue
            want_thumb = fixtures[fixture_id]["expect"]["thumbnail"]
            for role in ("original", "thumbnail"):
                artifact = next((a for a in job.get("artifacts", []) if a["role"] == role), None)
                if artifact is None:
                    yield (f"{fixture_id} {role}", False, "no such artifact")
                    continue
                result = open_in_new_tab(driver, service.base + artifact["url"], IMAGE_STATE, "image not displayed")
                if "error" in result:
                    yield (f"{fixture_id} {role} displays", False, str(result))
                    continue
                want = (512, 512) if role == "original" else (want_thumb["width"], want_thumb["height"])
                yield (f"{fixture_id} {role} displays", (result["width"], result["height"]) == want,
                       f"{artifact.get('contentType')} displayed {result['width']}x{result['height']}, expected "
                       f"{want[0]}x{want[1]}")


def report(checks, counts):
    for name, ok, detail in checks:
        if ok is None:
            print(f"SKIP {name}: {detail}")
            counts["skipped"] += 1
            continue
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        counts["passed" if ok else "failed"] += 1


def main():
    args = sys.argv[1:]
    animations_only = "--animations-only" in args
    args = [a for a in args if a != "--animations-only"]
    if len(args) != 1:
        sys.exit(__doc__)
    binary = os.path.abspath(args[0])
    with tempfile.TemporaryDirectory(prefix="mw-browser-") as out_dir:
        notes = [] if animations_only else convert_all(binary, out_dir)
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
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        try:
            driver.get("about:blank")
            for note_id, rel, expected_ms in notes:
                if rel is None:
                    print(f"FAIL {note_id}: no playback artifact")
                    counts["failed"] += 1
                    continue
                driver.switch_to.new_window("tab")  # as an operator opens a voice note
                driver.get(f"http://127.0.0.1:{port}/{rel}")
                result = driver.execute_async_script(PROBE)
                driver.close()
                driver.switch_to.window(driver.window_handles[0])
                if "error" in result:
                    print(f"FAIL {note_id}: {result}")
                    counts["failed"] += 1
                    continue
                got_ms = result["duration"] * 1000
                ok = abs(got_ms - expected_ms) <= TOLERANCE_MS
                print(f"{'ok  ' if ok else 'FAIL'} {note_id}: browser duration {got_ms:.0f} ms, source {expected_ms} ms")
                counts["passed" if ok else "failed"] += 1
            if not animations_only:
                report(served_checks(binary, driver, out_dir), counts)
            report(animation_checks(binary, driver, out_dir), counts)
        finally:
            driver.quit()
            server.shutdown()
        skipped = f", {counts['skipped']} skipped" if counts["skipped"] else ""
        print(f"{counts['passed']} passed, {counts['failed']} failed{skipped}")
        sys.exit(1 if counts["failed"] or not counts["passed"] else 0)


if __name__ == "__main__":
    main()
