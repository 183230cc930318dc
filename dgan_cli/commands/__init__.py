"""Commands that belong to the core: plugins, cache, backbone info."""
