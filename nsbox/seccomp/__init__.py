"""Seccomp: Docker's default profile, profile conversion, the BPF compiler and its cache."""
