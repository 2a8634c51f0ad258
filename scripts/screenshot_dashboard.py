"""Screenshot the teacher dashboard (docs/dashboard.png) from a fresh server with the demo class.

    .venv/bin/python scripts/screenshot_dashboard.py [--view '#/student/ada'] [--out PATH]

Needs Debian's `chromium` and `chromium-driver` (`apt-get install -y chromium chromium-driver`)
and selenium (the `dev` extra). The server runs as `make run` runs it, on a temporary SQLite file.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the server and browser helpers shared with the tests

from tests.browser import CHROMEDRIVER, CHROMIUM  # noqa: E402
from tests.browser import FLAGS as BROWSER_FLAGS  # noqa: E402
from tests.serving import free_port, serve  # noqa: E402

FLAGS = [*BROWSER_FLAGS, "--hide-scrollbars"]
# What each view shows once it has loaded.
READY = {
    "": "#heatmap tbody tr",
    "#/student/": "#history-chart path.series",
    "#/skill/": "#level-counts td.count",
}


def capture(url: str, view: str, out: Path, size: tuple[int, int], profile: str) -> None:
    """Open the view in headless Chromium and save a PNG of exactly `size` pixels."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
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
    demo = {"MASTERY_DEMO": "1", "MASTERY_SHUTDOWN_DRAIN_SECONDS": "0"}
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(Path(tmp) / "demo.db", free_port(), **demo) as server,
    ):
        capture(server.url, args.view, args.out, (args.width, args.height), f"{tmp}/chromium")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
