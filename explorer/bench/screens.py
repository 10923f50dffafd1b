"""python -m explorer.bench.screens [OUT] [--full] [--only NAME ...]: the page as people see it, as screenshots
(PNG files in OUT, default ./shots/screens): every tab and every view of the Explore tab, in the light
and the dark theme (the browser's colour scheme, which Streamlit follows), at a laptop's size (1440×900)
and on a projector (1280×720), plus the presentation links a teacher opens. Needs Chromium (see
browser.py). Look at them after changing anything a user sees."""
from __future__ import annotations

import os
import sys
from urllib.parse import quote

from .browser import browser, streamlit_server, wait_idle

SIZES = {"laptop": (1440, 900), "projector": (1280, 720)}
# (name, query string): each opens one view from a link, as a shared URL would
VIEWS = [
    ("explore", "tab=Explore"),
    ("explore-units", "tab=Explore&xtab=Units+over+time"),
    ("explore-says", "tab=Explore&xtab=What+it+says"),
    ("explore-depends", "tab=Explore&xtab=What+it+depends+on"),
    ("explore-step", "tab=Explore&xtab=Step+inspector"),
    ("explore-saturation", "tab=Explore&xtab=Saturation"),
    ("cell-lstm", "tab=Cell&model_choice=shakespeare-lstm"),
    ("cell-gru", "tab=Cell&model_choice=shakespeare-gru"),
    ("cell-rnn", "tab=Cell&model_choice=shakespeare-rnn"),
    ("cell-mingru", "tab=Cell&model_choice=shakespeare-mingru"),
    ("cell-minlstm", "tab=Cell&model_choice=shakespeare-minlstm"),
    ("cell-slstm", "tab=Cell&model_choice=shakespeare-slstm"),
    ("explore-slstm", "tab=Explore&model_choice=shakespeare-slstm"),
    ("gradient", "tab=Gradient+flow"),
    ("gradient-modern", "tab=Gradient+flow&gf_source=" + quote("pretrained: the modern cells beside them (minGRU, minLSTM, "
                                                               "sLSTM)")),
    ("lesson-h-in-gates", "lesson=h+in+the+gates"),
    ("train", "tab=Train"),
    ("units", "tab=Units"),
    ("present-cell", "tab=Cell&present=true"),
    ("present-explore", "tab=Explore&present=true"),
    ("train-history", "tab=Train"),              # after a short run of all three (ACTIONS), at "Watch it learn"
]


def _train_short(page):
    """The Train tab's defaults with 60 steps: start, wait for the end, scroll to the history."""
    box = page.locator("[data-testid='stNumberInput']").filter(has_text="steps").locator("input").first
    box.fill("60")
    box.press("Enter")
    page.get_by_role("button", name="start training").click()
    page.get_by_text("Training finished after").wait_for(timeout=600_000)
    wait_idle(page)
    page.get_by_text("The probe's gates through training").first.scroll_into_view_if_needed()


ACTIONS = {"train-history": _train_short}


def take(out: str, only: list[str] | None = None, full: bool = False) -> list[str]:
    """Every (view, theme, size) in VIEWS × light/dark × SIZES as OUT/<view>-<theme>-<size>.png; returns the paths.
    full: the whole page, not only its first screen."""
    os.makedirs(out, exist_ok=True)
    paths = []
    with streamlit_server() as url, browser() as b:
        for theme in ("light", "dark"):
            for size, (w, h) in SIZES.items():
                # Streamlit scrolls an inner element, not the document: a whole page needs a tall window
                page = b.new_page(viewport={"width": w, "height": 3000 if full else h}, color_scheme=theme)
                for name, query in VIEWS:
                    if only and name not in only:
                        continue
                    page.goto(f"{url}/?{quote(query, safe='=&+')}")
                    wait_idle(page)
                    if name in ACTIONS:
                        ACTIONS[name](page)
                    page.wait_for_timeout(1500)                  # figures drawn after the run ends
                    path = os.path.join(out, f"{name}-{theme}-{size}.png")
                    page.screenshot(path=path)
                    paths.append(path)
                page.close()
    return paths


if __name__ == "__main__":
    args = sys.argv[1:]
    full = "--full" in args
    args = [a for a in args if a != "--full"]
    only = args[args.index("--only") + 1:] if "--only" in args else None
    args = args[:args.index("--only")] if "--only" in args else args
    for p in take(args[0] if args else os.path.join("shots", "screens"), only, full=full):
        print(p)
