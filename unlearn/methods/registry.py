"""The registry: every method module, the methods by name and the forget terms by ``forget_loss`` value.

A new method or objective is a new module beside these (a :class:`~unlearn.methods.base.Method` named
``METHOD`` and, for a new objective, its :class:`~unlearn.methods.base.ForgetTerm` classes in ``TERMS``) plus
its entry in :data:`MODULES`.
"""

from __future__ import annotations

from types import ModuleType

from unlearn.methods import dual, ga, graddiff, gru, npo, rmu, salun, simnpo
from unlearn.methods.base import ForgetTerm, Method

#: method modules, in the order ``medunlearn unlearn methods`` lists them
MODULES: tuple[ModuleType, ...] = (dual, ga, graddiff, npo, simnpo, rmu, salun, gru)

METHODS: dict[str, Method] = {mod.METHOD.name: mod.METHOD for mod in MODULES}
FORGET_TERMS: dict[str, type[ForgetTerm]] = {t.name: t for mod in MODULES for t in getattr(mod, "TERMS", ())}
