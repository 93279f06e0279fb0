"""SalUn-style: GradDiff on a saliency mask (the top-ρ Fisher ratio of forget to retain)."""

from __future__ import annotations

from unlearn.methods.base import Method

METHOD = Method(
    name="salun",
    description="SalUn-style: saliency mask (top-rho Fisher ratio) + graddiff",
    forget="ga",
    retain="nll",
    selection="fisher",
)
