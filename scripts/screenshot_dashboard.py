"""Screenshot the teacher dashboard (docs/dashboard.png) from a fresh server with the demo class.

    .venv/bin/python scripts/screenshot_dashboard.py [--view '#/student/ada'] [--out PATH]

Needs Debian's `chromium` and `chromium-driver` (`apt-get install -y chromium chromium-driver`)
and selenium (the `dev` extra). The server runs as `make run` runs it, on a temporary SQLite file.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parent.parent
SERVER = Path(sys.executable).parent / "mastery-engine"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
# What each view shows once it has loaded.
READY = {
    "": "#heatmap tbody tr",
    "#/student/": "#history-chart path.series",
    "#/skill/": "#level-counts td.count",
}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    """Until /readyz answers 200 (30 s at most)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not become ready in 30 s")


def capture(url: str, view: str, out: Path, size: tuple[int, int], profile: str) -> None:
    """Open the view in headless Chromium and save a PNG of exactly `size` pixels."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        width, height = size
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        driver.get(f"{url}/dashboard{view}")
        ready = next(css for prefix, css in reversed(READY.items()) if view.startswith(prefix))
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ready))
        time.sleep(0.3)  # let the last layout settle
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(driver.get_screenshot_as_png())
    finally:
        driver.quit()


def main() -> None:
    """Start the demo server, take the screenshot, stop the server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--view", default="", help="a hash route, e.g. '#/student/ada'")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "MASTERY_STORE_URL": f"sqlite:///{tmp}/demo.db",
            "MASTERY_AUTH": "off",
            "MASTERY_DEMO": "1",
        }
        command = [str(SERVER), "serve", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, process)
            capture(url, args.view, args.out, (args.width, args.height), f"{tmp}/chromium")
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
