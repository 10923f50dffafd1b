"""Figures: plotly figure builders, data in, finished go.Figure out. No streamlit, no model code.

    figures.py  heatmaps, lines, the stacked gates figure, gradient curves, saturation, the overview
    scales.py   the colour scales (readable with colour-vision deficiency) and the names keys give them
    key.py      the colour key (HTML) shown above figures drawn without colour bars
    theme.py    light and dark: the colours of text, axes and neutral ink
    finish.py   a figure finished for the page: frozen() (its dict once) and themed() (for a light or dark page)
    connectivity.py  which inputs each output depends on: the triangle, how far back, attribution
    readout.py  what the model says: a forecast against the series, class probabilities, a verdict
    learning.py a model learning: its gates at every snapshot (animated), the gradient's reach over training
    cell.py     the textbook cell diagram filled with a model's numbers, animated in the browser

Every builder is bounded in size whatever the input length. Imports: plotly, numpy and explorer.core's
gate names; never torch tensors from a model (callers pass arrays). Only the app and the `.plot()`
conveniences import this package: the library itself needs no plotly.
"""

from .connectivity import DECADE_SCALE, REACH_SCALE, attribution_figure, connectivity_figure, reach_figure
from .figures import (
    DIV,
    FONT,
    GRADIENT_DECADES,
    OVERVIEW_MARGINS,
    PALETTE,
    SEQ,
    STYLE,
    gate_heatmap,
    gate_scale,
    gates_figure,
    gradient_curves,
    gradient_units,
    heatmap_stack,
    log_curves,
    safe_label,
    saturation_scatter,
    side_by_side,
    state_lines,
    text_heatmap,
)
from .finish import FrozenFigure, frozen, themed
from .key import css_gradient, scale_key
from .learning import flow_at_figure, history_figure, history_scales, horizon_figure, prediction_figure, storage_figure
from .readout import class_figure, forecast_figure, next_token_figure, verdict_figure
from .scales import SCALE_NAMES, scale_name
from .theme import THEMES, Theme, theme_of

__all__ = [
    "DIV",
    "FONT",
    "GRADIENT_DECADES",
    "OVERVIEW_MARGINS",
    "FrozenFigure",
    "frozen",
    "PALETTE",
    "SEQ",
    "STYLE",
    "gate_heatmap",
    "gate_scale",
    "gates_figure",
    "gradient_curves",
    "gradient_units",
    "heatmap_stack",
    "log_curves",
    "safe_label",
    "saturation_scatter",
    "side_by_side",
    "state_lines",
    "text_heatmap",
    "scale_key",
    "history_figure",
    "history_scales",
    "horizon_figure",
    "flow_at_figure",
    "storage_figure",
    "prediction_figure",
    "css_gradient",
    "class_figure",
    "forecast_figure",
    "next_token_figure",
    "verdict_figure",
    "REACH_SCALE",
    "DECADE_SCALE",
    "attribution_figure",
    "connectivity_figure",
    "reach_figure",
    "THEMES",
    "Theme",
    "theme_of",
    "themed",
    "SCALE_NAMES",
    "scale_name",
]
