"""Runnable examples; installed as ``gradcheck_kit.examples`` so ``gradcheck-kit demo`` can run them."""
