"""Numeric stage: finite differences and their verdicts, on arrays and callables only.

Holds the central-difference estimates and the judge (`differences`), the per-tensor comparison
(`comparison`), many entries' losses taken in one tight loop and judged together (`blocks`), the
tolerance rule (`tolerance`), the loss's measured noise (`noise`), step sizes
(`steps`), entry sampling and random directions (`sampling`), cheap finiteness tests (`finite`),
whole-parameter moves (`moves`), least-squares fits of one
vector against another (`fitting`), softmax and cross-entropy (`losses`), curvature from gradient
differences (`curvature`), and exhaustive checks spread over joblib workers: the runner in the calling
process (`parallel`), what a worker receives and runs (`workers`), and BLAS thread counts (`blas`).

May import numpy, scipy, joblib (and its cloudpickle) and the kit's `errors`; never a model view, a check or
the report: it knows nothing of models, only of arrays and of functions that return a loss.
"""
