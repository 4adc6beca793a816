"""The layout of ``infer_pool``'s control block: word offsets and states, shared by the pool and its
compiled loops (``infer_pool_loops``)."""

CLAIM, DONE, TAKEN, STATE, CPU, ARGS = 0, 8, 16, 24, 32, 96  # word offsets in ``ctl`` (STATE, CPU + 16 * helper)
RUN, SLEEP, WAKE, STOP, NAP = 0, 1, 2, 3, 4  # a helper's state (NAP: a caller asks it to sleep)
A_KIND, A_X, A_W, A_B, A_OUT, A_ROWS, A_K, A_N, A_RELU, A_STEP = range(ARGS, ARGS + 10)
KIND_F32, KIND_F64 = 1, 2
KIND_WINO = 3  # a Winograd convolution's stage (``winograd_split_loops``): A_X its words, A_ROWS the stage, A_STEP
# the blocks
CHAIN_WORDS = 8  # a chain's per-layer words (``infer_pool.chain_meta``): w, b, out addresses; n, k, relu, blocks, step
