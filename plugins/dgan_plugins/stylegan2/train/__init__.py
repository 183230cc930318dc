"""Training small StyleGAN2 generators: `dgan backbone train` (see docs/training.md).

Import `train_backbone` from `.run` and `train_command` from `.command`; this
package itself imports nothing, so the CLI stays fast to start.
"""
