"""Drives Slimage with TinyPNG's own Python client (PyPI `tinify`, unmodified): only its endpoint is
pointed at Slimage. Tinify's clients follow `https://` output URLs as given, so this script puts a
TLS front (a self-signed certificate, trusted through REQUESTS_CA_BUNDLE) before the test server's
plain HTTP, as a reverse proxy would in production.

Environment: SLIMAGE_BACKEND (http://127.0.0.1:PORT), FRONT_PORT (the https port the server's
PUBLIC_URL names), SLIMAGE_KEY, IMAGE (a JPEG path). Prints one JSON line with what it saw.
"""

import http.client
import http.server
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse

BACKEND = urllib.parse.urlsplit(os.environ["SLIMAGE_BACKEND"])
FRONT_PORT = int(os.environ["FRONT_PORT"])
WORK = tempfile.mkdtemp(prefix="tinify-client-")
CERT, KEY = os.path.join(WORK, "cert.pem"), os.path.join(WORK, "key.pem")
subprocess.run(
    ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", KEY, "-out", CERT,
     "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
    check=True, capture_output=True,
)
# requests prefers this over the bundle the client sets on its session.
os.environ["REQUESTS_CA_BUNDLE"] = CERT


class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection(BACKEND.hostname, BACKEND.port, timeout=300)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = forward

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", FRONT_PORT), Front)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(CERT, KEY)
server.socket = context.wrap_socket(server.socket, server_side=True)
threading.Thread(target=server.serve_forever, daemon=True).start()

import tinify  # noqa: E402  (after the CA bundle is set)

tinify.Client.API_ENDPOINT = f"https://127.0.0.1:{FRONT_PORT}"
report = {"tinify_version": tinify.__version__}

tinify.key = os.environ["SLIMAGE_KEY"]
original = open(os.environ["IMAGE"], "rb").read()
result = tinify.from_buffer(original).to_buffer()
report["input_bytes"] = len(original)
report["output_bytes"] = len(result)
report["output_starts_jpeg"] = result[:3] == b"\xff\xd8\xff"
report["compression_count"] = tinify.compression_count

source = tinify.from_buffer(original)
resized = source.resize(method="fit", width=100, height=100).result()
report["resized"] = [resized.width, resized.height, resized.content_type]
converted = source.convert(type=["image/webp"]).result()
report["converted"] = [converted.content_type, converted.data[8:12] == b"WEBP"]

try:
    tinify.from_buffer(b"%PDF-1.7 not an image").to_buffer()
    report["unsupported"] = "no error"
except tinify.ClientError as error:
    report["unsupported"] = type(error).__name__
    report["unsupported_status"] = error.status

tinify.key = "not-a-real-key"
try:
    tinify.from_buffer(original).to_buffer()
    report["bad_key"] = "no error"
except tinify.AccountError as error:
    report["bad_key"] = type(error).__name__
    report["bad_key_status"] = error.status

print(json.dumps(report))
server.shutdown()
