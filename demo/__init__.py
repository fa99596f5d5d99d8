"""The whole workflow on a synthetic source, no ImageNet needed: what ``imagenet-tiny demo`` runs.

:mod:`demo.workflow` draws a source, builds and exports variants, loads them back and scores a baseline
(:mod:`demo.baseline`) with the ILSVRC metric; the command only says what each step did.
"""
