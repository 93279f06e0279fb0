"""Dual-strategy unlearning, baselines, evaluation."""
