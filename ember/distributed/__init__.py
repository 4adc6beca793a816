"""ember.distributed: data-parallel training on MPI with ``torch.distributed``'s API.

Start N ranks with ``ember-run --nproc_per_node N train.py`` (or ``mpirun -n N python train.py``); each calls
``init_process_group()`` and then the collectives below. ``nn.parallel.DistributedDataParallel`` averages
gradients during backward; ``utils.data.distributed.DistributedSampler`` gives each rank its share of the
data. See docs/distributed.md.

Importing this module sets RANK / WORLD_SIZE / LOCAL_RANK from Open MPI's variables when they are missing, so
programs that read them before ``init_process_group`` run under plain ``mpirun`` too.
"""
import os as _os

from . import _prim  # noqa: F401  (registers the all_reduce primitive)
from ._collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    reduce_scatter,
    reduce_scatter_tensor,
)
from ._group import (
    Backend,
    GroupMember,
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    new_group,
)
from ._mpi import DistBackendError, DistError

if "OMPI_COMM_WORLD_RANK" in _os.environ:
    from ._group import set_rank_env as _set_rank_env

    _set_rank_env(int(_os.environ["OMPI_COMM_WORLD_RANK"]), int(_os.environ["OMPI_COMM_WORLD_SIZE"]))

__all__ = [
    "Backend", "DistBackendError", "DistError", "GroupMember", "ProcessGroup", "ReduceOp", "Work", "all_gather",
    "all_gather_into_tensor", "all_gather_object", "all_reduce", "barrier", "broadcast", "broadcast_object_list",
    "destroy_process_group", "get_backend", "get_process_group_ranks", "get_rank", "get_world_size", "group",
    "init_process_group", "is_available", "is_gloo_available", "is_initialized", "is_mpi_available",
    "is_nccl_available", "new_group", "reduce_scatter", "reduce_scatter_tensor",
]
