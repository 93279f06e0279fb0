"""GRU-style: GradDiff with the forget gradient projected off the retain gradient's average on conflict."""

from __future__ import annotations

from unlearn.methods.base import Method

METHOD = Method(
    name="gru",
    description="GRU-style: graddiff with the forget gradient projected off the retain gradient when they conflict",
    forget="ga",
    retain="nll",
    projection="gru",
)
