"""Benchmarks: each times cxlens side by side with its baseline in one run and prints the ratio.

They ship with the source repository, not the ``cxlens`` package; ``cxlens bench …`` runs them
from a clone (see README, *Benchmarks*).
"""
