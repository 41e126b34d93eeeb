"""The asset registry: models, environments, data assets, computes and datastores.

Each noun has a service (``ModelService``...) reached through ``Services`` (``ctx.models``), a
pydantic spec for its YAML file (``registry.specs``) and the typed object the SDK returns
(``registry.schemas``).
"""

from batchpoint.registry.schemas import Compute, Data, Datastore, Environment, Model
from batchpoint.registry.specs import ComputeSpec, DataSpec, EnvironmentSpec, ModelSpec

__all__ = [
    "Compute",
    "ComputeSpec",
    "Data",
    "DataSpec",
    "Datastore",
    "Environment",
    "EnvironmentSpec",
    "Model",
    "ModelSpec",
]
