"""Pipeline jobs: steps run as child jobs in dependency order, with step reuse (``type: pipeline``)."""
