"""``nsbox-runc``: an OCI runtime with runc's command line, on nsbox's engine.

One module per verb (create.py, start.py, ...), each thin: parse the verb's
flags, call the engine (engine.py builds a container from a bundle's
config.json loaded straight into :mod:`nsbox.spec`), print what runc prints.
"""
