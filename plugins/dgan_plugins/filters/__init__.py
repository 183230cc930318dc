"""Built-in filters (which synthesized samples to keep), one plugin module each: js."""
