"""The real thing: `streamlit run app.py` in a subprocess, Chromium through Playwright."""
import os

import pytest

from browser import browser_page, chromium_missing, streamlit_server, wait_idle

pytestmark = pytest.mark.skipif(bool(chromium_missing()), reason=chromium_missing() or "ok")
SHOTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shots")


def shot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, name), full_page=False)


def test_default_view_renders_charts_without_exceptions():
    with streamlit_server() as url, browser_page() as page:
        page.goto(url)
        wait_idle(page)
        page.wait_for_selector(".js-plotly-plot", timeout=120_000)
        assert page.locator(".js-plotly-plot").count() >= 4
        assert page.locator("[data-testid='stException']").count() == 0
        assert page.get_by_text("Gate Explorer").first.is_visible()
        shot(page, "explore.png")
        for tab in ["Gradient flow", "Train", "Units"]:
            page.get_by_role("tab", name=tab).click()
            wait_idle(page)
            assert page.locator("[data-testid='stException']").count() == 0, tab
            shot(page, f"tab-{tab.split()[0].lower()}.png")
