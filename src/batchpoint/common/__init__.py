"""Small helpers shared by every domain: YAML loading, names, references, paths, overrides."""
