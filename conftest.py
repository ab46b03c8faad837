"""Root pytest configuration, loaded for every test run (unit tests and nbval notebooks alike).

Self-checks in the solution notebooks are strict under pytest: a wrong answer raises instead of
printing a hint, so a broken solution fails CI. (Learners running a notebook by hand get the
friendly, non-raising behaviour.) Kernels started by nbval inherit this environment.
"""
import os

os.environ.setdefault("SUPERCONV_STRICT_CHECKS", "1")
