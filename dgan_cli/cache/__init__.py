"""The HDF5 feature cache (format v1): see docs/cache-format.md."""
from dgan_cli.cache.reader import CacheReader
from dgan_cli.cache.schema import FORMAT_VERSION, CacheSpec, LabelSchema
from dgan_cli.cache.writer import CacheWriter

__all__ = ["CacheReader", "CacheSpec", "CacheWriter", "FORMAT_VERSION", "LabelSchema"]
