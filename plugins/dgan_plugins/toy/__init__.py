"""The toy world: a procedural labelled-image renderer (`dgan toy render`)."""
