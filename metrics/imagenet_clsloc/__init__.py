"""The ILSVRC clsloc metric: ``evaluate.load(imagenet_tiny.METRIC_PATH)`` loads this folder by path; the CLI imports it."""
