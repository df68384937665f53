#!/usr/bin/env python3
"""Time from drop to finished for batches of 1, 10 and 100 typical images, and the server's peak
memory, measured end to end: a fresh server process per batch (SQLite + local disk, in-process
workers, one per core), a Pro account, one multipart upload like the compress page's, then the job
polled every 100 ms until every file is done or failed. Images cycle through ../shared/corpus
(photos and graphics, PNG and JPEG, 0.1 to 12 MP).

Usage: scripts/bench-jobs.py [SERVER_BIN] (default target/release/server; `make bench-jobs`).
"""

import http.cookiejar
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
SERVER = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "target" / "release" / "server")
PASSWORD = "correct horse battery"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def corpus_images():
    files = sorted(p for p in CORPUS.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not files:
        sys.exit(f"no images in {CORPUS}")
    return files


def multipart(files):
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="options"\r\n\r\n{{}}\r\n'.encode()]
    for name, data in files:
        head = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        parts += [head, data, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return boundary, b"".join(parts)


def peak_rss_mib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_batch(count, images):
    data_dir = tempfile.mkdtemp(prefix="slimage-bench-")
    port = free_port()
    env = dict(os.environ, DATA_DIR=data_dir, LEPTOS_SITE_ADDR=f"127.0.0.1:{port}", RUST_LOG="warn",
               LEPTOS_SITE_ROOT=str(ROOT / "target" / "site"))
    email = "bench@example.com"
    subprocess.run([SERVER, "admin", "create-user", email], input=PASSWORD.encode(), env=env,
                   check=True, capture_output=True)
    subprocess.run([SERVER, "admin", "set-plan", email, "pro"], env=env, check=True, capture_output=True)
    server = subprocess.Popen([SERVER], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = urllib.request.Request(
            base + "/api/login",
            data=urllib.parse.urlencode({"email": email, "password": PASSWORD}).encode(),
            headers={"Origin": base, "Accept": "application/json"},
        )
        opener.open(login)
        files = [(f"batch/{i:03}-{images[i % len(images)].name}", images[i % len(images)].read_bytes())
                 for i in range(count)]
        input_bytes = sum(len(d) for _, d in files)
        megapixels = 0.0
        boundary, body = multipart(files)
        upload = urllib.request.Request(
            base + "/api/uploads", data=body,
            headers={"Origin": base, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        started = time.monotonic()
        job = json.load(opener.open(upload))["job"]
        uploaded = time.monotonic()
        while True:
            view = json.load(opener.open(base + f"/api/jobs/{job['id']}"))
            if all(i["status"] in ("done", "failed") for i in view["items"]):
                break
            time.sleep(0.1)
        finished = time.monotonic()
        done = [i for i in view["items"] if i["status"] == "done"]
        megapixels = sum((i["width"] or 0) * (i["height"] or 0) for i in done) / 1e6
        output_bytes = sum(i["output_bytes"] for i in done)
        return {
            "images": count,
            "done": len(done),
            "failed": count - len(done),
            "input_mb": round(input_bytes / 1e6, 1),
            "output_mb": round(output_bytes / 1e6, 1),
            "upload_s": round(uploaded - started, 2),
            "drop_to_finished_s": round(finished - started, 1),
            "megapixels": round(megapixels, 1),
            "peak_rss_mib": round(peak_rss_mib(server.pid)),
        }
    finally:
        server.terminate()
        server.wait()
        subprocess.run(["rm", "-rf", data_dir])


def main():
    if not SERVER.exists():
        sys.exit(f"{SERVER} not found: build it first (cargo build --release -p server)")
    images = corpus_images()
    print(f"# server {SERVER}, {os.cpu_count()} cores, images cycling through {len(images)} corpus files")
    for count in (1, 10, 100):
        print(json.dumps(run_batch(count, images)), flush=True)


if __name__ == "__main__":
    main()
