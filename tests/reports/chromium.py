"""Load a report in a real headless Chromium: screenshot, DOM, and proof that it asks for nothing on the network."""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Chromium's own service traffic (component updater, account check, network time), which no flag fully turns off
# in headless mode. Matched by exact host: a report fetching anything, from any other host, still fails.
BROWSER_HOSTS = {"update.googleapis.com", "accounts.google.com", "clients2.google.com"}


def need_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("headless Chromium not installed (/usr/bin/chromium; Debian package `chromium`)")


class TrapProxy:
    """A local TCP listener used as Chromium's proxy: every network request the page makes would land here."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.requests.append(conn.recv(4096))
                except OSError:
                    self.requests.append(b"<connection>")

    def page_requests(self) -> list[str]:
        """First lines of the requests that did not come from Chromium's own services. A connection closed without
        a byte sent (Chromium's speculative pre-connect to its proxy) requested nothing and is not counted; one
        that stalls is (it is recorded as '<connection>')."""
        lines = [r.split(b"\r\n", 1)[0].decode("latin-1") for r in self.requests if r]
        return [line for line in lines if _host(line) not in BROWSER_HOSTS]

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()


def _host(request_line: str) -> str:
    """Host of 'GET http://host/path HTTP/1.1' or 'CONNECT host:443 HTTP/1.1'."""
    parts = request_line.split()
    target = parts[1] if len(parts) > 1 else ""
    return target.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]


def chromium(html: Path, tmp: Path, *extra: str, proxy_port: int | None = None, timeout: int = 60):
    args = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-features=NetworkTimeServiceQuerying", "--disable-extensions",
            "--hide-scrollbars", "--mute-audio",
            f"--user-data-dir={tmp / 'chromium-profile'}", *extra]
    if proxy_port:
        args += [f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>"]
    return subprocess.run([*args, html.resolve().as_uri()], check=False, capture_output=True, text=True,
                          timeout=timeout)


def screenshot(html: Path, tmp: Path, width: int = 1280, height: int = 2400, proxy_port: int | None = None):
    png = tmp / f"{html.stem}.png"
    proc = chromium(html, tmp, f"--screenshot={png}", f"--window-size={width},{height}", proxy_port=proxy_port)
    assert png.exists(), proc.stderr[-2000:]
    import matplotlib.image as mpimg

    return mpimg.imread(png), png


def dump_dom(html: Path, tmp: Path, proxy_port: int | None = None) -> str:
    proc = chromium(html, tmp, "--dump-dom", "--virtual-time-budget=2000", proxy_port=proxy_port)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout
