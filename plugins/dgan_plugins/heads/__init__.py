"""Built-in heads (label types), one plugin module each: segmentation, keypoints, depth.

Each module registers itself through the `dgan` entry-point group exactly as a
third-party head would; the pipeline builds heads by name from the registry.
"""
