"""An image manifest's config descriptor is bounded before anything is fetched:
the config is read whole into memory (as containers/image, 4 MiB at most)."""

from __future__ import annotations

import pytest

from nsbox.errors import ConfigError
from nsbox.image import manifest as M

DIGEST = "sha256:" + "a" * 64


def doc(config_size: int) -> dict:
    return {"schemaVersion": 2, "mediaType": M.OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST,
                       "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": DIGEST, "size": 10}]}


def test_a_config_of_more_than_4_mib_is_refused():
    with pytest.raises(ConfigError, match=r"pull x: manifest: config of 4194305 bytes \(more than 4 MiB\)"):
        M.check_manifest(doc((4 << 20) + 1), M.OCI_MANIFEST, "pull x: manifest")


def test_a_config_of_4_mib_is_accepted():
    assert M.check_manifest(doc(4 << 20), M.OCI_MANIFEST, "m")["config"]["size"] == 4 << 20
