"""Unlearning methods, one module each: every method is a configuration of the one training loop.

A method (:class:`~unlearn.methods.base.Method`) names the loss on forget sequences and the tokens it acts on,
whether a keep term guards the preservation-critical tokens of the same sequences, whether a retain term acts
on retain sequences, which coordinates may move (all trainable ones, or a Fisher-saliency top-ρ mask), how the
forget gradient is constrained (none, a retain-gradient basis, a GRU/PCGrad projection) and the trust region.
``dual`` is ours; the others are the usual baselines. :class:`MethodConfig` is the ``method`` section of a run
config: ``name`` picks a method's defaults, every other key overrides one.

Examples
--------
>>> m = method_config("npo", beta=0.2)
>>> (m.forget_loss, m.beta, m.retain_loss)
('npo', 0.2, 'none')
>>> method_config("dual").selection
'fisher'
"""

from unlearn.methods.base import ForgetTerm, Method
from unlearn.methods.config import MethodConfig, method_config
from unlearn.methods.registry import FORGET_TERMS, METHODS

__all__ = ["FORGET_TERMS", "METHODS", "ForgetTerm", "Method", "MethodConfig", "method_config"]
