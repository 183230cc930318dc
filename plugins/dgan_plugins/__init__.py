"""Built-in dgan plugins, registered through the `dgan` entry-point group like any other."""
