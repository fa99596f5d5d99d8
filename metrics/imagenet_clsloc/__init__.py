"""The ILSVRC clsloc metric: ``evaluate.load("metrics/imagenet_clsloc")`` loads the script by path; the CLI imports it."""
