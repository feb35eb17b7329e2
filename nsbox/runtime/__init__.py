"""The executor: turns a spec into kernel calls in one documented order."""
