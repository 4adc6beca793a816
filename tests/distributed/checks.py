"""One 2-rank launch for every check that leaves the process group healthy, so the suite pays MPI's and
Ember's start-up once: bad input before init, the equivalence cases, bad input after init, Keras fit.

    mpirun -n 2 python tests/distributed/checks.py [equivalence case ...]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bad_input  # noqa: E402
import equivalence  # noqa: E402
import keras_fit  # noqa: E402

import ember.distributed as dist  # noqa: E402

bad_input.before_init()
dist.init_process_group("mpi")
equivalence.run(sys.argv[1:] or list(equivalence.CASES))
bad_input.after_init()
keras_fit.run()  # keras.distribution joins the group already initialized
dist.destroy_process_group()
