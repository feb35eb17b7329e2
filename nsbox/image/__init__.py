"""Root filesystems: the embedded default, directories, and tarballs (safely unpacked)."""
