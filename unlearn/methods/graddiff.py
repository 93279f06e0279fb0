"""GradDiff: gradient ascent on the forget sequences, NLL on the retain sequences."""

from __future__ import annotations

from unlearn.methods.base import Method

METHOD = Method(
    name="graddiff", description="gradient ascent on forget + NLL on retain", forget="ga", retain="nll"
)
