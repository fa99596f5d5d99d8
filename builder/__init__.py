"""Everything the ImageNet-tiny builder stands on, in data-flow order.

classes (the class table and subsets) -> sources (a user's download: Kaggle, devkit) ->
transform (decode, colour, fit, resample) with geometry (where pixels and boxes land) ->
config (the variants and their names) -> the builder in ``imagenet_tiny.py``, which keeps beside each
build its report (what it left out or changed) and cache record (which download it is of), and whose
workers end with it (workers).
"""
