"""The served page in Chromium as people see it: in the light and the dark theme (the browser's colour
scheme, which Streamlit follows), every tab's figures on the theme's background and every key and label
legible (WCAG contrast from the page's computed colours), a presentation link on a 1280×720 projector
opening on its figure, and the cell diagram's labels clear of each other, of the wires and of the nodes
at three sizes for LSTM, GRU, RNN, minGRU, minLSTM and sLSTM. Screenshots land in shots/."""
import os

import pytest

from explorer.bench.browser import browser, chromium_missing, streamlit_server, wait_idle

pytestmark = pytest.mark.skipif(bool(chromium_missing()), reason=chromium_missing() or "")
SHOTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shots")

# Colours as the page computed them -> WCAG 2 contrast; a figure's own background, if any; effective
# backgrounds found by walking up to the first opaque ancestor.
JS_COLOURS = """
() => {
  const parse = s => { const m = (s || '').match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const mix = (c, bg, a) => [0, 1, 2].map(k => c[k] * a + bg[k] * (1 - a));
  const page = parse(getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor);
  const behind = el => { for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor); if (c && c[3] > 0.5) return c; } return page; };
  const alpha = el => { let a = 1;
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) a *= Number(getComputedStyle(e).opacity); return a; };
  const out = {page, figures: [], keys: [], labels: []};
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const svg = plot.querySelector('svg.main-svg'), bg = plot.querySelector('rect.bg');
    const bgFill = bg ? (parseFloat(getComputedStyle(bg).fillOpacity) === 0 ? 'transparent' : getComputedStyle(bg).fill) : null;
    out.figures.push({paper: getComputedStyle(svg).backgroundColor, plot: bgFill,
                      title: (plot.querySelector('.gtitle') || {}).textContent || ''});
    const sel = '.gtitle, .xtick text, .ytick text, .x2tick text, .y2tick text, .legendtext, .g-xtitle text, ' +
                '.g-ytitle text, .cbaxis text, .cbtitle text, .annotation-text, .g-x2title text, .g-y2title text';
    for (const t of plot.querySelectorAll(sel)) {
      if (!t.textContent.trim() || t.getBoundingClientRect().width === 0) continue;
      const c = parse(getComputedStyle(t).fill); if (!c) continue;
      const paper = parse(getComputedStyle(svg).backgroundColor), b = paper && paper[3] > 0.5 ? paper : behind(plot);
      out.labels.push({text: t.textContent.slice(0, 40), ratio: ratio(mix(c, b, c[3] * Number(getComputedStyle(t).fillOpacity || 1)), b)});
    }
  }
  for (const key of document.querySelectorAll('.ge-key')) {
    for (const el of key.querySelectorAll('b, span')) {
      if (!el.childNodes.length || el.childNodes[0].nodeType !== 3 || !el.textContent.trim()) continue;
      const b = behind(el), c = parse(getComputedStyle(el).color);
      out.keys.push({text: el.textContent, ratio: ratio(mix(c, b, c[3] * alpha(el)), b)});
    }
  }
  return out;
}
"""

# (tab, the view inside it as the URL names it): every tab, and every view of a tab that draws a figure
VIEWS = [("Explore", {}), ("Explore", {"xtab": "Units over time"}), ("Explore", {"xtab": "What it says"}),
         ("Explore", {"xtab": "What it depends on"}), ("Explore", {"xtab": "Saturation"}), ("Cell", {}),
         ("Gradient flow", {}), ("Gradient flow", {"gtab": "Per unit"}), ("Units", {}), ("Train", {})]
KEYED = [("Explore", {}), ("Gradient flow", {"gtab": "Per unit"}), ("Explore", {"xtab": "What it depends on"})]


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


def url_for(server, tab, **more):
    return f"{server}/?" + "&".join(f"{k}={str(v).replace(' ', '+')}" for k, v in {"tab": tab, **more}.items())


def opened(page, url, figures=True):
    page.goto(url)
    wait_idle(page)
    if figures:
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=120_000)
    page.wait_for_timeout(800)
    assert page.locator("[data-testid='stException']").count() == 0, url


def transparent_or(colour: str, page_bg) -> bool:
    if colour in ("", None, "transparent", "rgba(0, 0, 0, 0)", "rgba(0,0,0,0)"):
        return True
    nums = [float(x) for x in colour[colour.index("(") + 1:-1].replace(",", " ").split()]
    return (len(nums) > 3 and nums[3] == 0) or [round(x) for x in nums[:3]] == [round(x) for x in page_bg[:3]]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_tab_takes_the_theme_and_every_key_and_label_reads(server, theme):
    os.makedirs(SHOTS, exist_ok=True)
    with browser() as b:
        page = b.new_page(viewport={"width": 1440, "height": 900}, color_scheme=theme)
        for tab, view in VIEWS:
            xtab = " ".join(view.values())
            opened(page, url_for(server, tab, **view), figures=tab != "Train")
            got = page.evaluate(JS_COLOURS)
            dark_page = sum(got["page"][:3]) < 3 * 128
            assert dark_page == (theme == "dark"), (tab, got["page"])
            if tab != "Train":
                assert got["figures"], (tab, xtab)
            for f in got["figures"]:                 # no figure is a slab of another colour on the page
                assert transparent_or(f["paper"], got["page"]) and transparent_or(f["plot"], got["page"]), (tab, xtab, f)
            low = [k for k in got["keys"] + got["labels"] if k["ratio"] < 4.5]
            assert not low, (theme, tab, xtab, low[:5])
            if (tab, view) in KEYED:
                assert got["keys"], (tab, xtab, "a colour key was expected")
            page.screenshot(path=os.path.join(SHOTS, f"theme-{theme}-{(tab + '-' + xtab).strip('-').replace(' ', '_')}.png"))


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_presentation_link_fills_a_projector_with_the_figure(server, theme):
    with browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 720}, color_scheme=theme)
        opened(page, url_for(server, "Cell", present="true"))
        fig = page.locator(".js-plotly-plot").first.bounding_box()
        assert fig["y"] < 200, fig                                         # the figure leads the first screen
        assert page.locator("h1").count() == 0                             # no title, no intro
        side = page.locator("[data-testid='stSidebar']").evaluate("e => e.getBoundingClientRect().right")
        assert side <= 1, side                                             # the sidebar folded away
        play = page.get_by_text("▶ play").bounding_box()
        assert play and play["y"] + play["height"] <= 720, play            # play and the slider on that screen
        rail = page.locator(".slider-rail-rect").first.bounding_box()
        assert rail["y"] + rail["height"] <= 720, rail
        sizes = page.locator(".js-plotly-plot .subplot.xy .textpoint text").evaluate_all(
            "ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize))")
        assert len(sizes) > 10 and min(sizes) >= 15, sizes                  # the diagram's type, for the back of the room
        assert page.get_by_text("What the model reads").count() == 1      # the input: folded under the tabs
        page.screenshot(path=os.path.join(SHOTS, f"present-cell-{theme}-1280x720.png"))
        for tab in ("Explore", "Gradient flow"):                          # the other tabs with figures lead with them
            opened(page, url_for(server, tab, present="true"))
            top = page.locator(".js-plotly-plot").first.bounding_box()
            assert top["y"] < 360, (tab, top)
            page.screenshot(path=os.path.join(SHOTS, f"present-{tab.replace(' ', '_')}-{theme}-1280x720.png"))


# Every text box of the diagram (its panel: the first subplot), every wire and node, as screen rectangles.
JS_DIAGRAM = """
() => {
  const plot = document.querySelector('.js-plotly-plot'), sub = plot.querySelector('.subplot.xy');
  const rect = r => ({x0: r.left, y0: r.top, x1: r.right, y1: r.bottom});
  const texts = [], wires = [], nodes = [], boxes = [];
  sub.querySelectorAll('.scatterlayer .trace').forEach((tr, k) => {
    tr.querySelectorAll('.textpoint text').forEach(t => { if (t.textContent.trim())
      texts.push({trace: k, text: t.textContent, ...rect(t.getBoundingClientRect())}); });
    tr.querySelectorAll('.points path.point').forEach(p => nodes.push({trace: k, ...rect(p.getBoundingClientRect())}));
    tr.querySelectorAll('path.js-line').forEach(p => {
      const w = parseFloat(getComputedStyle(p).strokeWidth), m = p.getScreenCTM(), n = p.getTotalLength();
      const pts = [];
      for (let s = 0; s <= n; s += 2) {
        const q = p.getPointAtLength(s); pts.push([m.a * q.x + m.c * q.y + m.e, m.b * q.x + m.d * q.y + m.f]); }
      if (w >= 20) boxes.push({trace: k, x0: Math.min(...pts.map(q => q[0])), x1: Math.max(...pts.map(q => q[0])),
                               y0: pts[0][1] - w / 2, y1: pts[0][1] + w / 2});
      else wires.push(pts);
    });
  });
  return {texts, wires, nodes, boxes};
}
"""


def overlap(a, b, pad=1.0) -> bool:
    return min(a["x1"], b["x1"]) - max(a["x0"], b["x0"]) > pad and min(a["y1"], b["y1"]) - max(a["y0"], b["y0"]) > pad


SIZES = [("1280x720", 1280, 720, False), ("1440x900", 1440, 900, False), ("present", 1280, 720, True)]


@pytest.mark.parametrize("model", ["shakespeare-lstm", "shakespeare-gru", "shakespeare-gru textbook", "shakespeare-rnn",
                                   "shakespeare-mingru", "shakespeare-minlstm", "shakespeare-slstm"])
def test_the_cell_diagrams_labels_are_clear_of_each_other_and_the_wires(server, model):
    model, _, textbook = model.partition(" ")
    more = {"cell_textbook": "true"} if textbook else {}
    with browser() as b:
        for name, w, h, present in SIZES:
            page = b.new_page(viewport={"width": w, "height": h})
            opened(page, url_for(server, "Cell", model_choice=model, **more, **({"present": "true"} if present else {})))
            if textbook:
                assert page.get_by_text("Textbook form (Cho et al. 2014)").count() == 1
            page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
            for step in (0.0, 0.5):                     # the first frame and one further on (other numbers)
                if step:
                    rail = page.locator(".slider-rail-touch-rect").first.bounding_box()
                    page.mouse.click(rail["x"] + rail["width"] * step, rail["y"] + rail["height"] / 2)
                    page.wait_for_timeout(600)
                d = page.evaluate(JS_DIAGRAM)
                texts = d["texts"]
                # a wire's stretch under a box or a node is hidden by it (drawn on top); a node's own symbol sits on it
                covers = d["boxes"] + d["nodes"]
                seen = [[p for p in pts if not any(c["x0"] <= p[0] <= c["x1"] and c["y0"] <= p[1] <= c["y1"] for c in covers)]
                        for pts in d["wires"]]
                with_nodes = {n["trace"] for n in d["nodes"]}
                assert len(texts) >= 5, (model, name, texts)
                where = f"{model} at {name}, slider {step:.0%}"
                for i, a in enumerate(texts):
                    for b2 in texts[i + 1:]:
                        assert not overlap(a, b2), (where, a["text"], b2["text"])
                    for pts in seen if a["trace"] not in with_nodes else []:     # no wire runs through a label
                        hit = [p for p in pts if a["x0"] + 1 < p[0] < a["x1"] - 1 and a["y0"] + 1 < p[1] < a["y1"] - 1]
                        assert not hit, (where, a["text"], hit[:3])
                    on_node = [n for n in d["nodes"] if n["trace"] != a["trace"] and overlap(a, n)]
                    assert not on_node, (where, a["text"])
                    in_box = [bx for bx in d["boxes"] if overlap(a, bx)]
                    for bx in in_box:                     # a box's words stay inside the box
                        assert bx["x0"] - 1 <= a["x0"] and a["x1"] <= bx["x1"] + 1 and bx["y0"] - 1 <= a["y0"] \
                            and a["y1"] <= bx["y1"] + 1, (where, a["text"], bx)
            shot = f"cell-{model}{'-cho' if textbook else ''}-{name}.png"
            page.locator(".js-plotly-plot").first.screenshot(path=os.path.join(SHOTS, shot))
            page.close()
