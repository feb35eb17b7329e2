"""Thin kernel layer: each syscall wrapped once, no policy, no spec types.

Every wrapper raises :class:`nsbox.kernel.errors.KernelError`, whose message names
the operation and the path (``mount `proc` to `/proc`: Operation not permitted``).
"""
