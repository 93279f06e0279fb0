"""The one unlearning loop: every method of :mod:`unlearn.methods` runs here, on ``accelerate``.

By concern: the run loop (:mod:`~unlearn.trainer.loop`), what a run reads (:mod:`~unlearn.trainer.inputs`), the
coordinates that may move (:mod:`~unlearn.trainer.saliency`) and their flat optimiser
(:mod:`~unlearn.trainer.coordinates`), the loss terms of a step (:mod:`~unlearn.trainer.objectives`), the DP
step (:mod:`~unlearn.trainer.dp_step`), checkpoints (:mod:`~unlearn.trainer.checkpoints`), FSDP
(:mod:`~unlearn.trainer.fsdp`), early stopping (:mod:`~unlearn.trainer.stopping`) and time and memory
(:mod:`~unlearn.trainer.timing`). What a run leaves behind is :mod:`unlearn.outputs`.
"""

from unlearn.trainer.loop import Unlearner

__all__ = ["Unlearner"]
