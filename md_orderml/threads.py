"""CPU threads of the ``md-orderml`` commands: a default that does not collapse on a busy machine.

torch runs its CPU kernels on OpenMP threads that, by default, *spin* at every barrier
waiting for the slowest thread. When other jobs share the cores, one of those threads
is often descheduled and the others burn its time: on the 2-core development VM
``md-orderml label`` took 50-53 s next to one CPU-bound job with torch's defaults, 12 s
with ``OMP_WAIT_POLICY=PASSIVE`` and 6.8 s with one thread. So the commands

* set ``OMP_WAIT_POLICY=PASSIVE`` (idle OpenMP threads sleep instead of spinning) before
  torch is imported, unless the environment already sets a policy
  (:func:`passive_openmp`), and
* set torch's thread count explicitly (:func:`set_threads`): ``--threads N`` when given,
  else ``OMP_NUM_THREADS`` when set, else :func:`default_threads`: the CPUs this process
  may run on less the cores other processes keep busy (the 1-minute load average), at
  least 1, shared between the MPI ranks of a node.

Library use (``OrderML`` in a script) keeps torch's own defaults; call :func:`set_threads`
to get the commands' behaviour.
"""

from __future__ import annotations

import os
from typing import Optional

#: Environment variable of OpenMP's wait policy, and the value the commands default to.
WAIT_POLICY_ENV = "OMP_WAIT_POLICY"
WAIT_POLICY = "PASSIVE"


def passive_openmp() -> bool:
    """Let idle OpenMP threads sleep (``OMP_WAIT_POLICY=PASSIVE``) unless a policy is already set.

    OpenMP reads the variable when it is loaded, i.e. when torch is first imported;
    later calls change nothing for this process.

    Returns:
        Whether torch was not imported yet (so the policy takes effect).
    """
    import sys

    os.environ.setdefault(WAIT_POLICY_ENV, WAIT_POLICY)
    return "torch" not in sys.modules


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask; ``os.cpu_count()`` where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads(share: int = 1) -> int:
    """The default torch thread count: free usable CPUs divided by ``share``, at least 1.

    Args:
        share: Processes that split the CPUs (MPI ranks on this node).

    Returns:
        ``max(1, min(usable, round(cpu_count - load)) // share)``, where ``usable`` is
        :func:`usable_cpus` and ``load`` the 1-minute load average (0 where unknown).
    """
    usable = usable_cpus()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    idle = int((os.cpu_count() or usable) - load + 0.5)
    return max(1, min(usable, idle) // max(1, int(share)))


def set_threads(threads: Optional[int] = None, share: int = 1) -> int:
    """Set torch's intra-op CPU threads the way the commands do.

    Args:
        threads: Threads to use; ``None`` or 0: ``OMP_NUM_THREADS`` when set, else
            :func:`default_threads` ``(share)``.
        share: Processes on this node splitting the CPUs (MPI ranks), for the default.

    Returns:
        The thread count set.

    Raises:
        InputError: ``threads`` is negative.
    """
    from md_orderml.errors import InputError

    if threads is not None and int(threads) < 0:
        raise InputError(f"--threads {threads}: give a positive number of threads (0 = default)")
    passive_openmp()
    import torch

    if threads:
        n = int(threads)
    elif os.environ.get("OMP_NUM_THREADS", "").strip().isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        n = int(os.environ["OMP_NUM_THREADS"])
    else:
        n = default_threads(share)
    torch.set_num_threads(n)
    return n


def ranks_on_node(comm) -> int:
    """Ranks of an mpi4py communicator on this node (collective; 1 for ``None``).

    Args:
        comm: An mpi4py communicator or ``None``.
    """
    if comm is None:
        return 1
    try:
        from mpi4py import MPI

        local = comm.Split_type(MPI.COMM_TYPE_SHARED)
        try:
            return int(local.Get_size())
        finally:
            local.Free()
    except Exception:  # an MPI without shared-memory splits: assume one node
        return int(comm.Get_size())


def add_threads_option(parser, default: int = 0) -> None:
    """Add ``--threads N`` to a command's ``argparse`` parser (0 = the default of :func:`set_threads`).

    Args:
        parser: The subcommand's parser.
        default: The option's default (0: :func:`default_threads`; a command may fix 1).
    """
    if default:
        text = f"torch CPU threads (default {default})"
    else:
        text = ("torch CPU threads (default: OMP_NUM_THREADS if set, else the CPUs this process may use "
                "less the 1-minute load average of other jobs, at least 1; see md_orderml.threads)")
    parser.add_argument("--threads", type=int, default=default, metavar="N", help=text)
