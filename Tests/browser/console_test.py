#!/usr/bin/env python3
"""Real-browser test of the operations console (/console) in headless Chromium.

A real `mediaworker serve` (SQLite, its own workers) gets a known set of uploads through the API: two photos, a PDF,
a voice note, three files refused as unsupported_type, one refused as corrupt; one more photo is then made dead by
hand in the database (as if its helper had crashed on every attempt). The browser then:
- is sent to the login form from a console URL without a session; a wrong password is refused;
- logs in; the overview shows the right counts (accepted, refused, dead, refusals by code);
- the jobs page filtered by unsupported_type lists exactly those three jobs;
- every thumbnail in the jobs list displays (naturalWidth > 0); the voice note's player reaches metadata with the
  duration of its playback artifact (±100 ms);
- a job page shows its artifacts and waveform; retrying the dead job takes it out of `dead` and it ends final.
A screenshot of each page is written under .build/console-screenshots/.

Usage: console_test.py MEDIAWORKER_BINARY
Prints one line per check, then "N passed, N failed"; exits non-zero on any failure.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "Fixtures")
SHOTS = os.path.join(ROOT, ".build", "console-screenshots")
TOKEN = "console-test-token"
PASSWORD = "correct horse battery staple"
TOLERANCE_MS = 100

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    return ok


def wait_for(fn, seconds=20, step=0.1):
    deadline = time.time() + seconds
    while True:
        value = fn()
        if value or time.time() > deadline:
            return value
        time.sleep(step)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    os.makedirs(SHOTS, exist_ok=True)
    user_line = subprocess.run([binary, "console-hash", "ops", "--cost", "10"], input=PASSWORD + "\n",
                               capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="mw-console-") as data:
        env = dict(os.environ, MEDIAWORKER_TOKENS=TOKEN, MEDIAWORKER_LOG_LEVEL="warning",
                   MEDIAWORKER_SIGNING_KEYS="console-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                   MEDIAWORKER_CONSOLE_USERS=user_line)
        server = subprocess.Popen([binary, "serve", "--port", "0", "--data", data], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env, text=True)
        driver = None
        try:
            base = server.stdout.readline().strip().split(" ")[-1]
            run(binary, base, data, lambda d: None)
            options = Options()
            for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--mute-audio", "--window-size=1280,1000"]:
                options.add_argument(arg)
            options.binary_location = "/usr/bin/chromium"
            driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
            browse(driver, base, data)
        finally:
            if driver:
                driver.quit()
            server.terminate()
            server.wait(timeout=30)
    passed = sum(1 for r in results if r)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


UPLOADS = {}  # name -> job JSON (final)


def api(base, method, path, body=None):
    req = urllib.request.Request(base + path, data=body, method=method, headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def run(binary, base, data, _):
    files = {
        "photo": ("images/whatsapp_photo.jpg", "visitor", "+34600000001", "c-1"),
        "photo2": ("images/exif_rotated_gps.jpg", "visitor", "+34600000001", "c-2"),
        "pdf": ("documents/text_3_pages.pdf", "visitor", "+34600000002", "c-3"),
        "voice": ("audio/voice_note_15s.ogg", "visitor", "+34600000001", "c-1"),
        "docx": ("hostile/invoice.docx", "visitor", "+34600000002", "c-4"),
        "txt": ("hostile/notes.txt", "visitor", "+34600000002", "c-4"),
        "html": ("hostile/cat.html", "visitor", "+34600000001", "c-5"),
        "corrupt": ("hostile/truncated.jpg", "visitor", "+34600000001", "c-5"),
        "doomed": ("images/whatsapp_photo.jpg", "visitor", "+34600000003", "c-6"),
    }
    for name, (rel, sender, business, conversation) in files.items():
        body = open(os.path.join(FIXTURES, rel), "rb").read()
        q = (f"from={sender}&fileName={os.path.basename(rel)}&businessNumber=%2B{business[1:]}&conversationId={conversation}"
             f"&idempotencyKey=console-{name}")
        UPLOADS[name] = api(base, "POST", "/v1/attachments?" + q, body)
    for name, job in UPLOADS.items():
        UPLOADS[name] = wait_for(lambda: (lambda j: j if j["state"] in ("accepted", "rejected", "dead") else None)(
            api(base, "GET", "/v1/jobs/" + job["id"])), seconds=60) or job
    # The doomed photo dies: as if its helper had crashed on every attempt.
    db = sqlite3.connect(os.path.join(data, "mediaworker.sqlite"), timeout=30)
    db.execute("UPDATE jobs SET state = 'dead', attempts = 5, outcome = NULL, artifacts = NULL, "
               "last_error = 'helper process crashed (test)' WHERE id = ?", (UPLOADS["doomed"]["id"],))
    db.commit()
    db.close()


def shot(driver, name):
    driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


def text(driver, element_id):
    found = driver.find_elements(By.ID, element_id)
    return found[0].text.strip() if found else None


def browse(driver, base, data):
    states = {n: j["state"] for n, j in UPLOADS.items()}
    check("uploads final as expected", states == {"photo": "accepted", "photo2": "accepted", "pdf": "accepted",
                                                   "voice": "accepted", "docx": "rejected", "txt": "rejected",
                                                   "html": "rejected", "corrupt": "rejected", "doomed": "accepted"},
          str(states))
    unsupported = {UPLOADS[n]["id"] for n in ("docx", "txt", "html")}

    # No session: sent to the login form, from a page and from a thumbnail alike.
    driver.get(base + "/console/jobs?state=dead")
    check("no session: a page redirects to the login form", "/console/login" in driver.current_url, driver.current_url)
    driver.get(base + f"/console/media/{UPLOADS['photo']['id']}/thumbnail")
    check("no session: a thumbnail redirects to the login form", "/console/login" in driver.current_url, driver.current_url)
    shot(driver, "1-login")

    def login(password):
        driver.get(base + "/console/login")
        driver.find_element(By.ID, "user").send_keys("ops")
        driver.find_element(By.ID, "password").send_keys(password)
        button = driver.find_element(By.ID, "login")
        button.click()
        WebDriverWait(driver, 20).until(expected_conditions.staleness_of(button))

    login("not the password")
    check("a wrong password is refused", "/console/login" in driver.current_url
          and "Wrong name or password" in (text(driver, "message") or ""), driver.current_url)
    login(PASSWORD)
    # The answer comes after the throttle's delay for the failure before it: wait for the page, not the click.
    deadline = time.time() + 20
    while not driver.current_url.rstrip("/").endswith("/console") and time.time() < deadline:
        time.sleep(0.1)
    check("logged in: the overview", driver.current_url.rstrip("/").endswith("/console"), driver.current_url)

    # Overview: the known set.
    counts = {k: text(driver, k) for k in ("count-queued", "count-running", "count-dead", "accepted-hour", "rejected-hour",
                                           "refusals-unsupported_type", "refusals-corrupt", "outbox")}
    want = {"count-queued": "0", "count-running": "0", "count-dead": "1", "accepted-hour": "4", "rejected-hour": "4",
            "refusals-unsupported_type": "3", "refusals-corrupt": "1", "outbox": "0"}
    check("overview counts", counts == want, str(counts))
    check("overview charts are inline SVG", len(driver.find_elements(By.CSS_SELECTOR, "svg.chart")) == 2)
    shot(driver, "2-overview")
    driver.set_window_size(390, 844)
    shot(driver, "2-overview-phone")
    driver.set_window_size(1280, 1000)

    # Jobs filtered by unsupported_type: exactly those three.
    driver.get(base + "/console/jobs?reason=unsupported_type")
    listed = {row.get_attribute("data-id") for row in driver.find_elements(By.CSS_SELECTOR, "tr.job")}
    check("jobs filtered by unsupported_type list exactly those", listed == unsupported, f"{len(listed)} rows")
    shot(driver, "3-jobs-unsupported")

    # All jobs: thumbnails load, the voice note's player reaches metadata with the right duration.
    driver.get(base + "/console/jobs")
    thumbs = driver.find_elements(By.CSS_SELECTOR, "img.thumb")
    loaded = wait_for(lambda: driver.execute_script(
        "return Array.from(document.querySelectorAll('img.thumb')).every(i => i.complete && i.naturalWidth > 0)"), 15)
    widths = driver.execute_script("return Array.from(document.querySelectorAll('img.thumb')).map(i => i.naturalWidth)")
    check("thumbnails load (photos, PDF preview)", len(thumbs) == 3 and bool(loaded), f"naturalWidth {widths}")
    playback = [a for a in UPLOADS["voice"].get("artifacts", []) if a["role"] == "playback"]
    audio = wait_for(lambda: driver.execute_script("""
        const m = document.querySelector('tr.job audio');
        if (!m) return {error: 'no player'};
        if (m.error) return {error: 'media error ' + m.error.code};
        if (m.readyState >= 1 && isFinite(m.duration)) return {duration: m.duration};
        return null;"""), 15) or {"error": "no metadata within 15 s"}
    if "duration" in audio and playback:
        got = audio["duration"] * 1000
        check("voice note player reaches metadata", abs(got - playback[0]["durationMs"]) <= TOLERANCE_MS,
              f"browser {got:.0f} ms, artifact {playback[0]['durationMs']} ms")
    else:
        check("voice note player reaches metadata", False, str(audio))
    shot(driver, "4-jobs")
    older = driver.find_elements(By.ID, "older")
    check("one page holds the 9 jobs (no older link)", not older)

    # A voice note's page: audio player and waveform.
    driver.get(base + "/console/jobs/" + UPLOADS["voice"]["id"])
    bars = len(driver.find_elements(By.CSS_SELECTOR, "svg.waveform rect"))
    peaks = UPLOADS["voice"].get("outcome", {}).get("waveform", [])
    check("voice note page draws the waveform from the stored peaks", bars == len(peaks) > 0, f"{bars} bars, {len(peaks)} peaks")
    shot(driver, "5-job-voice-note")
    driver.get(base + "/console/jobs/" + UPLOADS["photo"]["id"])
    shot(driver, "5-job-photo")

    # Retry the dead job from its page: out of dead, then final.
    doomed = UPLOADS["doomed"]["id"]
    driver.get(base + "/console/jobs?state=dead")
    check("dead filter lists the dead job", [r.get_attribute("data-id") for r in driver.find_elements(By.CSS_SELECTOR, "tr.job")] == [doomed])
    driver.get(base + "/console/jobs/" + doomed)
    shot(driver, "6-job-dead")
    button = driver.find_element(By.ID, "retry")
    button.click()
    # The click posts a form and the browser follows the redirect: wait until the old page is gone
    # before reading the new one (reading at once raced the navigation in CI).
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(button))
    after = WebDriverWait(driver, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "h1 .state"))).text
    check("retry: the job leaves dead (queued, then taken by a worker)", after in ("queued", "running", "accepted"), after)

    def final_state():
        driver.get(base + "/console/jobs/" + doomed)
        s = driver.find_element(By.CSS_SELECTOR, "h1 .state").text
        return s if s in ("accepted", "rejected") else None
    final = wait_for(final_state, 60, 0.5)
    check("retried job ends final (accepted)", final == "accepted", str(final))
    attempts = driver.execute_script(
        "const dt = Array.from(document.querySelectorAll('dl.facts dt')).find(d => d.textContent === 'attempts');"
        "return dt ? dt.nextElementSibling.textContent : null")
    check("the retry gave it a fresh attempt budget (1 attempt, was 5)", attempts == "1", str(attempts))
    shot(driver, "7-job-retried")
    driver.get(base + "/console")
    check("overview after the retry: no dead job", text(driver, "count-dead") == "0", text(driver, "count-dead") or "")


if __name__ == "__main__":
    main()
