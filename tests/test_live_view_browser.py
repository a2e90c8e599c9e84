"""The live view (--web) in a real browser: Debian's headless Chromium driven by selenium,
watching one small run on the stand-in weights in a child process, then stopping it.

Skipped, saying why, when chromium, chromedriver or selenium is missing (.ci/run installs
them). The tests run in order on the one run: the last one presses Stop.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if CHROMIUM is None or DRIVER is None:
    pytest.skip(
        "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="needs selenium (tests/requirements.txt)"
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

HANG = 300
"""Seconds after which a wait gives up: only keeps a hanging run from hanging the tests."""


@pytest.fixture(scope="module")
def run(tiny_images, vgg19_mat, tmp_path_factory):
    """A run of 48x36 pixels and many iterations (more than it gets to) with --web on a free
    port, in a child process: (process, its folder, the page's URL). Killed at the end if
    still running."""
    folder = tmp_path_factory.mktemp("live") / "run"
    content, style = tiny_images
    command = [sys.executable, "neural_art.py", content, style, "--weights", vgg19_mat,
               "--width", 48, "--height", 36, "--iterations", 100_000, "--save-every", 25,
               "--seed", 1, "--output-dir", folder, "--web", "0"]  # fmt: skip
    process = subprocess.Popen(
        [str(a) for a in command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    first = process.stdout.readline()
    assert first.startswith("Live view: http://127.0.0.1:"), first + process.communicate()[1]
    yield process, folder, first.removeprefix("Live view: ").strip()
    if process.poll() is None:
        process.kill()
    process.communicate()


@pytest.fixture(scope="module")
def browser(run):
    """Headless Chromium showing the run's page."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1200,900"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(DRIVER))
    try:
        driver.get(run[2])
        yield driver
    finally:
        driver.quit()


def wait(driver, condition):
    """condition(driver)'s first true value."""
    return WebDriverWait(driver, HANG, poll_frequency=0.1).until(condition)


def iteration_shown(driver) -> int:
    """The N of the page's "iteration N / 100000" (0 while it shows no count)."""
    words = driver.find_element(By.ID, "iteration").text.split()
    if words[0] != "iteration" or words[2:] != ["/", "100000"] or not words[1].isdigit():
        return 0
    return int(words[1])


def test_the_page_shows_the_inputs_and_the_count_rises(browser):
    assert browser.title == "neural_art.py: live view"
    first = wait(browser, lambda d: iteration_shown(d) > 0 and iteration_shown(d))
    wait(browser, lambda d: iteration_shown(d) > first + 5)
    for image in browser.find_elements(By.CSS_SELECTOR, "#inputs img"):  # content and style
        wait(browser, lambda d, image=image: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", image))  # fmt: skip
    assert len(browser.find_elements(By.CSS_SELECTOR, "#inputs img")) == 2
    assert browser.find_element(By.ID, "J").text not in ("", "–")


def test_the_image_appears_and_changes(browser):
    current = browser.find_element(By.ID, "current")
    shown = int(wait(browser, lambda d: current.get_attribute("data-iteration")))
    later = wait(browser, lambda d: int(current.get_attribute("data-iteration") or 0) > shown)
    assert later
    width = browser.execute_script("return arguments[0].naturalWidth", current)
    height = browser.execute_script("return arguments[0].naturalHeight", current)
    assert (width, height) == (48, 36)


def test_the_plot_draws_the_costs(browser):
    drawn = browser.execute_script(
        "const c = document.getElementById('plot');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let k = 3; k < d.length; k += 4) n += d[k] > 0; return n;"
    )
    assert drawn > 100


def test_stop_ends_the_run_with_its_result_and_exit_status_0(browser, run, tmp_path):
    process, folder, _ = run
    browser.find_element(By.ID, "stop").click()
    status = wait(browser, lambda d: "stopped" in d.find_element(By.ID, "status").text and
                  d.find_element(By.ID, "status").text)  # fmt: skip
    assert status.startswith("The run was stopped: Stopped from the live view after iteration")
    out, err = process.communicate(timeout=HANG)
    assert process.returncode == 0, err
    assert "Stopped from the live view after iteration" in out
    last = int(out.split("Stopped from the live view after iteration ")[1].split()[0])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    with np.load(folder / "checkpoint.npz") as checkpoint:
        assert int(checkpoint["i"]) == last
    with Image.open(folder / "generated_image.jpg") as result:
        assert result.size == (48, 36)
    assert browser.find_element(By.ID, "stop").get_attribute("disabled")
    link = browser.find_element(By.ID, "download").get_attribute("href")
    assert link.endswith("/run/generated_image.jpg")
    assert browser.find_element(By.ID, "current").get_attribute("src").startswith("data:image/jpeg")
    screenshot = tmp_path / "live_view.png"
    browser.save_screenshot(str(screenshot))
    with Image.open(screenshot) as picture:
        assert picture.size[0] > 0
