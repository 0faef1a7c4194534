"""The thesis explainer: each article's argument as a map of sourced steps, with the article's
own counterpoints, dated, with the disclosure.

- ``model``: the map's records (steps, counterpoints, citations) and the words in
  ``resources/thesis.toml``;
- ``extract``: the map quoted from the article's structure (offline, and the fallback);
- ``draft``: the model's draft, each line held to an answer's checks;
- ``outline``: a map as text (CLI, audit trail, the advisor's starting outline);
- ``service``: one map per article version, kept, recorded, shown as of today.
"""

from .model import ArgumentMap, Evidence, FigureMark, Point, Step
from .outline import render_outline
from .service import ThesisService

__all__ = [
    "ArgumentMap",
    "Evidence",
    "FigureMark",
    "Point",
    "Step",
    "ThesisService",
    "render_outline",
]
