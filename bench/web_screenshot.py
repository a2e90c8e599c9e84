"""The README's picture of the live view: a real run's page, in headless Chromium.

Run from the repository root (needs Debian's chromium and chromium-driver, and selenium
from tests/requirements.txt):

    .venv/bin/python bench/web_screenshot.py [--iterations-seen 40]

Runs `neural_art.py images/cat.jpg images/starry_night.jpg --network vgg16 --size 256
--web 0` with the real ImageNet VGG-16 conv base of tests/real_vgg16.py, as a user would,
opens the page once the run has started, and when the page shows --iterations-seen
iterations done saves the page as images/gallery/live-view.png; then presses Stop (the
run ends with its result, exit status 0). The run goes to a temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
PICTURE = ROOT / "images" / "gallery" / "live-view.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations-seen", type=int, default=40)
    args = parser.parse_args()
    import real_vgg16
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    weights = real_vgg16.h5_file()
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "neural_art.py", "images/cat.jpg", "images/starry_night.jpg",
                   "--network", "vgg16", "--weights", str(weights), "--size", "256",
                   "--iterations", "200", "--save-every", "20", "--seed", "0",
                   "--output-dir", str(Path(folder) / "run"), "--web", "0"]  # fmt: skip
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        url = process.stdout.readline().removeprefix("Live view: ").strip()
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for argument in ("--headless=new", "--no-sandbox", "--window-size=1200,720"):
            options.add_argument(argument)
        service = webdriver.ChromeService(shutil.which("chromedriver"))
        driver = webdriver.Chrome(options=options, service=service)
        try:
            driver.get(url)

            def seen(d):
                words = d.find_element(By.ID, "iteration").text.split()
                return words[1].isdigit() and int(words[1]) >= args.iterations_seen

            WebDriverWait(driver, 1800, poll_frequency=0.2).until(seen)
            WebDriverWait(driver, 30).until(
                lambda d: d.find_element(By.ID, "current").get_attribute("src")
            )
            driver.save_screenshot(str(PICTURE))
            driver.find_element(By.ID, "stop").click()
            process.stdout.read()
            print(f"{PICTURE.relative_to(ROOT)}; the run ended with status {process.wait()}")
        finally:
            driver.quit()
            if process.poll() is None:
                process.kill()


if __name__ == "__main__":
    main()
