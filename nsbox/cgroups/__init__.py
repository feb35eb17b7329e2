"""Cgroups v1 (and hybrid) and v2, detected at run time.

nsbox puts a container's cgroup at an absolute path of its own
(``/nsbox/<id>`` by default), never relative to the caller's cgroup.
"""
