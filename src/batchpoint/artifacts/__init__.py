"""Immutable, content-addressed storage of model files and code snapshots."""

from batchpoint.artifacts.store import ArtifactStore, Manifest, ManifestEntry

__all__ = ["ArtifactStore", "Manifest", "ManifestEntry"]
