"""Figures for a light or a dark page: the colours a figure draws its text, axes and neutral ink in, per
theme (finish.themed() applies them to a finished figure). Re-exported by plots.

Backgrounds are transparent in both themes: the page shows through, so a figure never sits on the page
as a slab of another colour (not even in a browser whose theme changed since the figure was drawn).
The text colours are Streamlit's own (1.67) for its light and dark themes (the page's body text, read from
the served page's computed style), so every
label has the contrast the page's text has (at least 4.5:1, WCAG AA, against either background).
"""
from __future__ import annotations

from dataclasses import dataclass

TRANSPARENT = "rgba(0,0,0,0)"


@dataclass(frozen=True)
class Theme:
    """What a figure draws in, besides its data's colour scales."""
    name: str
    background: str      # the page's own background (opaque fills that must hide wires: operator nodes)
    text: str            # every label: titles, ticks, legends, colour bars
    ink: str             # neutral data ink: "the actual series", wires, outlines
    grid: str            # grid lines, faint
    axis: str            # axis lines and ticks
    legend: str          # a legend's box over data


THEMES = {
    "light": Theme("light", background="#ffffff", text="#2f2d2b", ink="#4d4a46", grid="#e8e6e3",
                   axis="#8c8884", legend="rgba(255,255,255,0.8)"),
    "dark": Theme("dark", background="#171614", text="#edebe8", ink="#cfccc7",
                  grid="rgba(237,235,232,0.14)", axis="#8c8884", legend="rgba(23,22,20,0.8)"),
}


def theme_of(name: str | None) -> Theme:
    """THEMES[name], light for anything else (a page that has not said which theme it shows)."""
    return THEMES.get(name or "light", THEMES["light"])
