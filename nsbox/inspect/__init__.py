"""The investigator's toolkit: read-only views of any process's isolation.

lsns (``nsbox ns``), nsenter (``nsbox enter``), findmnt (``nsbox mounts``),
``nsbox inspect`` and ``nsbox audit``.  These modules only read /proc (through
nsbox.procfs) and call kernel/ wrappers; none of them is on ``nsbox run``'s path.
"""
