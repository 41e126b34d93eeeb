"""Components: named, versioned command and pipeline definitions that pipeline steps run."""
