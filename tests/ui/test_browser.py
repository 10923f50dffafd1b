"""The real thing: `streamlit run app.py` in a subprocess, Debian's Chromium through Playwright.
Screenshots land in shots/ (ignored by git) for a person to look at."""
import os
import urllib.parse

import pytest

from explorer.bench.browser import browser_page, chromium_missing, streamlit_server, wait_idle

pytestmark = pytest.mark.skipif(bool(chromium_missing()), reason=chromium_missing() or "ok")
SHOTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shots")


def shot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, name), full_page=False)


def upload_model(page, server, path):
    """Open the page with "upload a checkpoint…" picked and upload the file at path in the sidebar."""
    page.goto(server + "/?model_choice=" + urllib.parse.quote("upload a checkpoint…"))
    wait_idle(page)
    page.locator("[data-testid='stSidebar'] [data-testid='stFileUploader'] input[type='file']").first.set_input_files(str(path))
    wait_idle(page)


def no_exception(page, where=""):
    assert page.locator("[data-testid='stException']").count() == 0, where


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


def test_default_view_and_every_tab(server):
    with browser_page() as page:
        page.goto(server)
        wait_idle(page)
        page.wait_for_selector(".js-plotly-plot", timeout=120_000)
        assert page.locator(".js-plotly-plot").count() >= 2                # the gates and the open view's figure
        gates = page.locator(".stPlotlyChart").filter(has_text="forget gate").first      # one figure, every gate
        for row in ["input gate", "forget gate", "cell candidate", "output gate", "cell state", "hidden state"]:
            assert gates.get_by_text(row).count() >= 1, row
        no_exception(page, "explore")
        assert page.get_by_text("Gate Explorer").first.is_visible()
        assert page.locator(".js-plotly-plot").first.is_visible()
        shot(page, "explore.png")
        # the views below the gates: each drawn when its tab is clicked (and only then)
        for view, sign in [("Units over time", ".js-plotly-plot"), ("Step inspector", ".katex"),
                           ("Saturation", ".js-plotly-plot"), ("One unit", ".js-plotly-plot")]:
            page.get_by_role("tab", name=view).click()
            wait_idle(page)
            no_exception(page, view)
            panel = page.locator("[role='tabpanel']:visible [role='tabpanel']:visible")
            panel.locator(sign).first.wait_for(timeout=60_000)
            shot(page, f"view-{view.split()[0].lower()}.png")
        for tab in ["Gradient flow", "Train", "Units"]:
            page.get_by_role("tab", name=tab).click()
            wait_idle(page)
            no_exception(page, tab)
            if tab != "Train":
                panel = page.locator("[role='tabpanel']:visible")
                assert panel.locator(".js-plotly-plot").count() >= 1, tab
            shot(page, f"tab-{tab.split()[0].lower()}.png")
        assert "tab=Units" in page.url                       # the tab is part of the link


def test_train_in_the_browser_then_stop(server):
    with browser_page() as page:
        page.goto(server + "/?tab=Train")
        wait_idle(page)
        page.get_by_role("button", name="start training").click()
        page.wait_for_selector("[data-testid='stProgress'] >> visible=true", timeout=60_000)
        page.wait_for_timeout(1500)
        page.get_by_role("button", name="stop", exact=True).click()
        page.get_by_text("Training stopped after").wait_for(timeout=30_000)
        wait_idle(page)
        no_exception(page, "train")
        shot(page, "train.png")


def test_a_shared_url_reproduces_the_view(server):
    q = urllib.parse.urlencode({"model_choice": "shakespeare-gru", "sample": "nested brackets", "topk": 8,
                                "tab": "Units"})
    with browser_page() as page:
        page.goto(f"{server}/?{q}")
        wait_idle(page)
        page.wait_for_selector("[role='tabpanel']:visible .js-plotly-plot", timeout=120_000)
        no_exception(page, "shared url")
        assert page.get_by_role("tab", name="Units").get_attribute("aria-selected") == "true"
        assert "GRU · hidden 256" in page.locator("[data-testid='stSidebar']").inner_text()
        assert page.get_by_text("Unit finder").first.is_visible()
        shot(page, "shared-url.png")


LESSON_NAMES = ["vanishing gradients", "forget gate", "GRU parameters", "interpretable unit", "padding and packing"]


@pytest.mark.parametrize("lesson", LESSON_NAMES)
def test_every_lesson_opens_in_the_browser(server, lesson):
    from explorer.ui.classroom import LESSONS
    with browser_page() as page:
        page.goto(f"{server}/?" + urllib.parse.urlencode({"lesson": lesson}))
        wait_idle(page)
        page.get_by_text(LESSONS[lesson]).wait_for(timeout=120_000)          # the lesson's own panel
        assert page.get_by_text(LESSONS[lesson]).is_visible()
        no_exception(page, lesson)
        assert page.locator("[data-testid='stAlert'] >> text=Something went wrong").count() == 0
        shot(page, f"lesson-{lesson.split()[0].lower()}.png")


def test_the_cell_plays_in_the_browser(server):
    """Two steps of the Cell tab: the sentence and box values change, and so does the highlighted character."""
    with browser_page() as page:
        page.goto(server + "/?tab=Cell")
        wait_idle(page)
        fig = page.locator(".stPlotlyChart").filter(has_text="forget gate").first
        fig.wait_for(timeout=120_000)
        no_exception(page, "cell")
        assert fig.get_by_text("▶ play").count() == 1 and fig.get_by_text("pause").count() == 1
        read = lambda: fig.locator("g.textpoint text").evaluate_all("ns => ns.map(n => n.textContent)")
        mark = lambda: fig.locator("g.points path.point").evaluate_all("ps => ps.map(p => p.getAttribute('transform'))")
        fig.scroll_into_view_if_needed()
        before, mark0 = read(), mark()
        os.makedirs(SHOTS, exist_ok=True)
        fig.screenshot(path=os.path.join(SHOTS, "cell-step-0.png"))
        rail = fig.locator(".slider-rail-touch-rect").first
        rail.scroll_into_view_if_needed()
        box = rail.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] / 2)   # the slider to ~40% of the text
        page.wait_for_timeout(800)
        after, mark1 = read(), mark()
        fig.screenshot(path=os.path.join(SHOTS, "cell-step-40.png"))
        assert [t for t in after if t.startswith("forget gate")] != [t for t in before if t.startswith("forget gate")]
        assert mark1 != mark0                                 # the highlighted character moved with the step
        page.get_by_text("▶ play").click()
        page.wait_for_timeout(1200)
        assert read() != after                                # playing moves on by itself


def test_an_uploaded_book_moves_a_progress_bar_then_draws(server, tmp_path):
    # The upload path a user takes with a long text: one pass with a bar that moves (scan_long's progress
    # callback, at most one message a second), then the overview and the first window.
    from explorer.bench.page import long_text
    book = tmp_path / "book.txt"
    book.write_text(long_text(200_000), encoding="utf-8")
    with browser_page() as page:
        page.goto(server)
        wait_idle(page)
        page.locator("[data-testid='stFileUploader'] input[type='file']").first.set_input_files(str(book))
        bar = page.locator("[data-testid='stProgress'] [role='progressbar']")
        bar.wait_for(timeout=60_000)
        seen = []
        while bar.count():
            try:
                v = bar.first.get_attribute("aria-valuenow", timeout=1000)
            except Exception:                 # the bar went between count() and the read
                break
            if v is not None and (not seen or seen[-1] != v):
                seen.append(v)
            page.wait_for_timeout(100)
        wait_idle(page, timeout=120_000)
        no_exception(page, "upload")
        assert len(seen) >= 2 and int(seen[-1]) > int(seen[0]), seen      # it moved
        assert page.get_by_text("200,000 characters").first.is_visible()
        assert page.get_by_text("the window below: steps 0–119 of 200,000").first.is_visible()
        assert page.locator(".js-plotly-plot").count() >= 3
        shot(page, "upload-book.png")


def test_a_forecaster_and_its_dated_csv_show_the_prediction_against_the_series(server, tmp_path):
    # The practitioner's path: their LSTM forecaster saved whole, and the airline-passengers-shaped CSV
    # ("Month" dates beside "Passengers"). The page reads it as a regressor, takes Passengers, labels
    # the steps by month, and draws its prediction after each step against the value that came next.
    import torch
    from projects import airline_csv, fitted_forecaster, saved
    torch.manual_seed(0)
    model, csv = tmp_path / "forecaster.pt", tmp_path / "airline-passengers.csv"
    model.write_bytes(saved(fitted_forecaster(airline_csv(96))))
    csv.write_bytes(airline_csv(96))
    with browser_page(1280, 900) as page:
        upload_model(page, server, model)
        assert page.get_by_text("task: regressor").first.is_visible()
        page.locator("[data-testid='stMain'] [data-testid='stFileUploader'] input[type='file']").first \
            .set_input_files(str(csv))
        wait_idle(page)
        no_exception(page, "forecaster")
        fig = page.locator(".stPlotlyChart").filter(has_text="prediction after each step")
        fig.first.wait_for(timeout=60_000)
        assert page.get_by_text("steps labelled by Month").first.is_visible()
        assert page.get_by_text("expects next").count() == 0
        fig.first.scroll_into_view_if_needed()
        shot(page, "forecaster.png")


@pytest.mark.parametrize("model", ["shakespeare-lstm", "shakespeare-rnn"])
def test_the_text_lights_up_by_what_one_step_depends_on(server, model):
    # A teacher's sentence, the view of what the prediction at one character uses, for the LSTM and the RNN.
    sentence = "The quick brown fox jumps over the lazy dog, and then the fox runs back home again."
    q = urllib.parse.urlencode({"model_choice": model, "xtab": "What it depends on", "text": sentence})
    with browser_page(1280, 900) as page:
        page.goto(f"{server}/?{q}")
        wait_idle(page)
        no_exception(page, model)
        fig = page.locator(".stPlotlyChart").filter(has_text="depends on")
        fig.first.wait_for(timeout=60_000)
        assert page.get_by_text("how far back each model looks").count() >= 1
        fig.first.scroll_into_view_if_needed()
        shot(page, f"depends-{model.split('-')[1]}.png")


def test_the_default_training_run_learns_and_its_history_plays(server):
    """A teacher's press of "start training" with every default: LSTM, GRU and RNN on Tiny Shakespeare; every
    held-out loss ends below the uniform baseline, and playing the history moves the gates figure."""
    import re
    with browser_page() as page:
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto(server + "/?tab=Train")
        wait_idle(page)
        page.get_by_role("button", name="start training").click()
        page.get_by_text("Watch it learn").first.wait_for(timeout=120_000)      # the live view, while it trains
        shot(page, "train-live.png")
        page.get_by_text(re.compile("Training finished after")).wait_for(timeout=300_000)
        wait_idle(page)
        no_exception(page, "train")
        found = re.findall(r"held-out loss ([\d.]+) \(baseline ([\d.]+)\)", page.inner_text("body"))
        assert len(found) == 3, found
        assert all(float(v) < float(b) - 1.0 for v, b in found), found      # far below a uniform guess
        fig = page.locator(".stPlotlyChart").filter(has_text="▶ play").filter(has_text="training step").first
        fig.scroll_into_view_if_needed()
        title = lambda: fig.locator(".gtitle").first.text_content()
        before = title()
        assert before.startswith("training step 500")
        fig.screenshot(path=os.path.join(SHOTS, "train-history-last.png"))
        fig.get_by_text("▶ play").click()
        page.wait_for_timeout(1500)
        assert title() != before                              # playing moves through the snapshots
        fig.get_by_text("pause").click()
        fig.screenshot(path=os.path.join(SHOTS, "train-history-playing.png"))
        shot(page, "train-after.png")


def test_a_student_types_a_name_and_sees_the_languages_form(server, tmp_path):
    # PyTorch's name-classifier tutorial's model (one-hot letters, an RNN, LogSoftmax over 18 languages), trained a
    # little here on a few names; the student picks the tutorial's alphabet, types "Satoshi" and reads the verdict.
    import torch
    from libraries import LANGUAGES, CharRNN, library_save

    from explorer.io.inputs.alphabets import TUTORIAL
    torch.manual_seed(0)
    model = CharRNN(57, 32, len(LANGUAGES))
    names = {"Japanese": ["Satoshi", "Tanaka", "Yamamoto", "Suzuki"], "Russian": ["Ivanov", "Petrov", "Smirnov"],
             "Irish": ["O'Neal", "Murphy", "Kelly"]}
    opt = torch.optim.Adam(model.parameters(), 0.02)
    for _ in range(60):
        for lang, ns in names.items():
            for n in ns:
                x = torch.zeros(len(n), 1, 57)
                x[torch.arange(len(n)), 0, torch.tensor([TUTORIAL.index(c) for c in n])] = 1
                loss = torch.nn.functional.nll_loss(model(x), torch.tensor([LANGUAGES.index(lang)]))
                opt.zero_grad()
                loss.backward()
                opt.step()
    path = tmp_path / "char_rnn.pt"
    path.write_bytes(library_save(model, {"model": [CharRNN]}))
    with browser_page(1280, 900) as page:
        upload_model(page, server, path)
        assert page.get_by_text("as many as the letters of PyTorch's name-classifier tutorial").first.is_visible()
        sel = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").filter(has_text="what it reads per step")
        sel.locator("input").first.click()
        page.get_by_role("option").filter(has_text="name-classifier tutorial").first.click()
        wait_idle(page)
        names = page.locator("[data-testid='stSidebar'] input[aria-label^='class names']").first
        names.fill(", ".join(LANGUAGES))
        names.press("Enter")
        wait_idle(page)
        box = page.locator("textarea").first
        box.fill("Satoshi")
        box.press("Control+Enter")
        wait_idle(page)
        no_exception(page, "name classifier")
        assert page.get_by_text("task: classifier").first.is_visible()
        fig = page.locator(".stPlotlyChart").filter(has_text="Japanese")
        fig.first.wait_for(timeout=60_000)
        fig.first.scroll_into_view_if_needed()
        shot(page, "name-classifier.png")


@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)])
def test_the_first_screen_shows_a_figure_and_a_finding(server, size):
    # A newcomer opens the default link: a figure well inside the first screen, and one sentence about what the
    # network does (the unit finder's strongest unit, drawn as the text coloured by it).
    w, h = size
    with browser_page(w, h) as page:
        page.goto(server)
        wait_idle(page)
        page.wait_for_selector(".js-plotly-plot", timeout=120_000)
        top = page.locator(".stPlotlyChart").first.bounding_box()["y"]
        assert top < 0.6 * h, top
        said = page.get_by_text("What this network does:").first
        assert said.is_visible() and said.bounding_box()["y"] < top
        assert page.get_by_text("tracks the position in line").first.is_visible()
        no_exception(page, "first screen")
        shot(page, f"first-screen-{w}x{h}.png")
