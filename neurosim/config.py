"""Tunables in one place: chunk budgets, block sizes, switch points.

Every number here trades speed, memory or responsiveness and changes no result. Tests patch
them (``monkeypatch.setattr(config, "CHUNK_WORK", 10)``) to exercise chunk boundaries and
small grids; families read them at call time, never at import.
"""

#: Work units (unit updates, synaptic events, chain steps) per kernel call of a chunked run:
#: about 0.02-0.1 s on one core, so a progress bar moves and Ctrl+C is honoured promptly.
CHUNK_WORK = 20_000_000

#: A run whose records would take more than this fraction of the memory available now is
#: streamed to a temporary netCDF file instead of being held in memory (with a warning).
RECORD_MEMORY_FRACTION = 0.5

#: Records smaller than this (bytes) are kept in memory without asking how much is available
#: (reading /proc/meminfo costs ~0.1 ms, a tenth of a small Hopfield recall).
RECORD_MEMORY_FLOOR = 64 << 20

# -- Hopfield networks (energy/hopfield.py, kernels/hopfield.py, kernels/cuda/hopfield.py) -----
# Recall chunks follow CHUNK_WORK (work: cues x units per sweep). The weights' and fields' integer
# dtypes (int8/int16 weights, int16/int32 fields for Hebbian counts) are not tunables: each is
# the narrowest type that holds every value exactly, chosen from the patterns.

#: Hebbian recall starts its local fields from the low-rank form ``X^T (X s) - P s`` (O(n P)
#: per cue) while the patterns number fewer than this fraction of the units, else from the
#: rows of the weights (O(n^2) per cue). Both give the same exact integers.
HOPFIELD_LOW_RANK_MAX_RATIO = 0.5
#: Recall of Hebbian counts on the CPU runs from the overlap counts (``sweeps_low_rank``: O(P)
#: per decision and per flip) instead of the fields (O(1) per decision, O(n) per flip) when
#: ``P <= this x n``; the two give the same run.
HOPFIELD_RECALL_LOW_RANK_MAX_RATIO = 0.1

#: Threads per block of the CUDA recall (one thread per cue; a block of 64 keeps the many
#: small recalls of a sweep on several multiprocessors).
HOPFIELD_CUDA_THREADS = 64

# -- Ising annealing (energy/annealing.py, kernels/annealing.py) --------------------------------
#: Work units per spin update in an annealing chunk (chunk = CHUNK_WORK // (this x n x reads)
#: sweeps, i.e. 4e6 spin updates: the annealer's own budget before the shared policy). A spin
#: update draws and may take an exp(); when the spin flips, its row of local fields moves (n
#: entries for dense couplings), and at the hot end of a schedule most spins flip: measured
#: (SK, n = 512, 8 reads, one thread) 26 ns per update at beta = 5 and 190 ns at beta = 0.05,
#: where a Hopfield unit update costs 18-95 ns. With 1, a hot chunk would take seconds.
ANNEAL_WORK_PER_SPIN = 5

# -- spiking networks (neurosim.spiking) -------------------------------------------------------
#: Simulated time (s) per compiled call of ``Network.run`` when no ``chunk=`` is given. A
#: spiking network's work per step depends on its activity (spikes delivered), unknown before
#: the run, so its chunk is measured in simulated time rather than in ``CHUNK_WORK``: 0.1 s is
#: 1000 steps at dt = 0.1 ms, tens of milliseconds for the CUBA network (N = 4000); the
#: records and spikes of a chunk stay small. Results do not depend on it.
SPIKING_CHUNK_TIME = 0.1

#: Least number of spikes the spike buffer of a kernel call holds (it holds at least
#: ``4 * n_neurons + 1024``); when it fills, the call returns early and the run calls again.
SPIKING_SPIKE_BUFFER = 1 << 16

# -- Boltzmann machines, RBMs, DBNs (energy/boltzmann.py, energy/rbm.py, energy/dbn.py) --------
# Sampling chunks follow CHUNK_WORK (work: chains x thin x sampled units x units per BM sample;
# chains x n_visible x n_hidden per RBM Gibbs step, summed over the layers for a DBN); fits
# record and honour Ctrl+C after every epoch (a DBN's pretraining: every layer).

#: Rows (visible x hidden states) per block when a BoltzmannMachine enumerates its states for
#: the exact log Z and log-likelihood: a block takes about 3 x rows x units x 8 bytes. Rows are
#: independent, so the result does not depend on it.
BM_ENUMERATE_ROWS = 1 << 16

#: Parallel blocks of the Gray-code walk over the small layer in ``RBM.log_partition("exact")``
#: (at least the thread count; each block restarts its sums, so a change moves the last digit).
RBM_ENUMERATE_BLOCKS = 64

# -- sweeps (sweeps/engine.py) -------------------------------------------------------------------
# A sweep is a Run of one step per point; these size its Dask tasks. None changes a result.

#: Automatic batching (``batch=None``): about this many seconds of work per Dask task, from the
#: measured run time of the points done so far (the scheduler's overhead is about 1-2 ms a task).
SWEEP_TARGET_TASK_S = 0.25

#: Dask tasks kept submitted per worker thread (enough to keep the workers busy while the
#: client writes results; few enough that Ctrl+C has little queued work to cancel).
SWEEP_IN_FLIGHT_PER_THREAD = 4

#: The client's wait between looks for finished tasks, shortest and longest (s): it polls, so
#: that Ctrl+C is seen while long points run, backing off from the shortest to the longest.
SWEEP_POLL_S = (0.001, 0.05)

# -- Markov chains (markov/, kernels/markov.py) -------------------------------------------------
# Simulation chunks follow CHUNK_WORK (work: chains per step; for a continuous-time chain
# chains x (1 + the largest exit rate x dt) per grid point). The CSR rows sampled by a scan
# rather than an alias table (kernels.markov.SCAN_MAX) are no tunable: the two samplers map a
# draw to different states, so that switch would change the paths.

#: Chains, recurrent classes and transient sets up to this many states are solved with dense
#: linear algebra (stationary distributions by an exact solve, absorption with the fundamental
#: matrix N, hitting by dense solves); larger ones with sparse LU, and ``stationary`` with
#: ``method="auto"`` by power iteration. Results agree to rounding, but absorption's Dataset
#: holds ``fundamental`` only on the dense side.
MARKOV_DENSE_SOLVE_MAX = 3000

#: ``MarkovChain.fit`` without smoothing gives a dense chain up to this many states and a
#: sparse one beyond. This picks the chain's representation, and with it the simulation
#: kernel, so the same seed draws other paths on either side of it.
MARKOV_FIT_DENSE_MAX = 1000

#: One dense chain of at least this many states runs the prefetching single-chain kernel
#: (``run_dense_one``), fewer run the grouped kernel; the two give the same path, draw for draw.
MARKOV_PREFETCH_MIN_STATES = 1

# -- gradient-trained families (nn/train.py, deep/) ---------------------------------------------
#: ``fit(..., blas_threads=None)`` limits BLAS to one thread for models with fewer parameters
#: than this: their mini-batch products are too small to share among threads, which then only
#: fight for the cores; larger models use every BLAS thread.
NN_BLAS_ONE_THREAD_BELOW = 1_000_000

# -- linear readouts and reservoirs (readout.py, reservoir/, kernels/reservoir.py) -------------
# ESN runs (run, generate, states, predict, fit_force) chunk by CHUNK_WORK (work: sequences x
# (recurrent weights + units) per step).

#: Bytes of rows that ``Ridge`` centres (and weighs) at a time while it sums the normal
#: equations and refines: a copy this large is the most it adds to the data's own memory.
#: The Gram matrix is summed block by block, so a change moves the last digit of a fit.
READOUT_BLOCK_BYTES = 1 << 23

#: Iterative refinement in ``Ridge.fit`` stops once a correction is below this (relative to
#: the weights), once the corrections stop halving, or after READOUT_REFINE_STEPS passes (each:
#: one matrix-vector product over the rows and back). On an ESN's states the first correction
#: takes the Cholesky solution's error to the rounding floor (measured 4e-9 -> 2.6e-13
#: relative at 500 units, 6e-8 -> 5.6e-13 at 2000), so a fit makes two passes.
READOUT_REFINE_TOL = 1e-12
READOUT_REFINE_STEPS = 6

#: Least reciprocal condition number (LAPACK's estimate) of the regularised normal equations
#: whose Cholesky solution ``Ridge.fit`` refines; below it (cond * eps above 0.2: refinement
#: would creep, and a rank-deficient design has no unique solution to refine) the augmented
#: system ``[Xc; sqrt(ridge) I]`` is solved instead, by QR (ridge > 0; 3-4x the time of the
#: normal equations) or the SVD (ridge = 0: the least-norm solution). Measured: a design of
#: condition 1e7 gives 3e-15 (refined to 3e-10 of the SVD's answer), an exactly repeated
#: column 6e-16, condition 1e8 4e-17; an ESN's states with ridge 1e-7, 4e-11 to 3e-12.
READOUT_MIN_RCOND = 1e-15

#: Reservoir layout rule (moved from reservoir/esn.py; measured on a 2-core Cascade Lake, one
#: thread, float64, 1 MiB L2): a dense matrix is read with SIMD dot products, a sparse one
#: costs about three scalar loads per non-zero. Per step, at 10 % density: 128 units about
#: equal; 256 units sparse 1.3x faster; 500 units sparse 2.2x (the dense 2 MiB streams from
#: L3). At 30 % density dense wins at 500 units (1.3x) but not at 1000 (8 MiB). So: dense for
#: n <= ESN_DENSE_MAX_UNITS, or for density >= ESN_DENSE_MIN_DENSITY while
#: n <= ESN_DENSE_MAX_UNITS_DENSE; sparse otherwise. Both layouts give the same states up to
#: rounding. Since the sparse rows gather x 8 lanes at a time (AVX-512 machine, 2 MiB L2, per
#: step, float64): 500 units at 30 % density sparse 41 us, dense 77; at 50 % about equal
#: (300-500 units), sparse ahead at 1000-2000; at 100 % dense ahead (700 units 267 us against
#: 349, 1000: 567 / 866, 2000: 1598 / 2068). So dense from 60 % density, up to 4096 units.
ESN_DENSE_MAX_UNITS = 128
ESN_DENSE_MIN_DENSITY = 0.6
ESN_DENSE_MAX_UNITS_DENSE = 4096

#: float32 reservoirs: float32 halves the dense bytes and runs the dense product in 16 SIMD
#: lanes (four rows at a time); the sparse cost (scalar loads per non-zero) does not shrink
#: with the precision. Measured per step at 10 % density, float32: 256 and 384 units dense ~=
#: sparse (dense 1.1x ahead at 384 with tanh excluded); 500 units sparse 1.6x faster (the 1 MB
#: dense matrix no longer stays in the 1 MiB L2 once the recorded states stream through). At
#: 30 % density: 500 units dense float32 1.6x faster than sparse (2.6x than dense float64),
#: 1000 units about equal. So for float32 dense also up to ESN_DENSE32_MAX_UNITS units from
#: density ESN_DENSE32_MIN_DENSITY on, and up to ESN_DENSE32_MAX_UNITS_DENSE units from
#: ESN_DENSE_MIN_DENSITY on.
ESN_DENSE32_MAX_UNITS = 384
ESN_DENSE32_MIN_DENSITY = 0.1
ESN_DENSE32_MAX_UNITS_DENSE = 1000

# -- CUDA annealing and Boltzmann sampling (kernels/cuda/annealing.py) --------------------------
#: Threads per block of the CUDA annealer with dense couplings (one block per read): the block
#: takes every decision of its read in step and splits the field update of a flip (n entries)
#: among its threads: 128 gives each 8 entries at n = 1024 and keeps several blocks (reads) on
#: a multiprocessor. Not yet measured on a GPU (the benchmark tries 32 to 256); results do not
#: depend on it.
ANNEAL_CUDA_DENSE_THREADS = 128

#: Threads per block of the CUDA annealer with sparse (CSR) couplings: one thread per read.
ANNEAL_CUDA_SPARSE_THREADS = 64

#: Threads per block of the CUDA Boltzmann machine sweeps (one block per chain, as the dense
#: annealer): one warp, since machines of a few hundred units have short field rows.
BM_CUDA_THREADS = 32

# -- Markov chains on CUDA (markov/_device.py, kernels/cuda/markov.py) ---------------------------
#: Threads per block of the CUDA Markov kernels (``run_dense``, ``run_csr``, ``gillespie``: one
#: thread per chain). 128 keeps 10^5 chains on ~800 blocks, enough to spread over every
#: multiprocessor; the paths do not depend on it.
MARKOV_CUDA_THREADS = 128

# -- spiking networks on CUDA (spiking/stepper.py, kernels/cuda/spiking.py) --------------------
#: Threads per block of the neuron pass (a thread per neuron, Poisson source and one for the
#: generators; spikers reserve their places in the spike lists once per block) and of the
#: state monitor. 256: 8 warps, so a block's one atomic reservation serves 256 neurons.
SPIKING_CUDA_THREADS = 256

#: Delivery: threads per block, and threads per spiking neuron (lanes; they stride together
#: over its outgoing synapses, so reads of the synapse tables coalesce). A warp per spiker
#: suits fan-outs from tens to thousands (80 synapses: 3 passes of a warp; 1000: 32).
SPIKING_CUDA_DELIVERY_THREADS = 256
SPIKING_CUDA_LANES = 32

#: Most blocks of the delivery launch: the spikers of a step are taken grid-stride, and the
#: host does not know their number before the launch. 1024 blocks of 256 threads fill an
#: H100 (132 multiprocessors x 8 such blocks) with 8192 spikers in flight; a network with
#: fewer possible spikers gets fewer blocks.
SPIKING_CUDA_DELIVERY_BLOCKS = 1024

#: Launch the spiking kernels with the arguments Numba marshalled for a call's first step
#: (cuda.core's launch, a few microseconds) instead of through Numba's dispatcher each step
#: (tens of microseconds for twenty-odd arrays). False: always the dispatcher (same results).
SPIKING_CUDA_PREPARED_LAUNCH = True

# -- CUDA RBM Gibbs sampling and CD/PCD epochs (kernels/cuda/rbm.py) -----------------------------
#: Threads per block of the CUDA RBM's element-wise kernels: the stream draws (a thread per
#: chain or mini-batch row, each drawing its row's numbers in the CPU's order), the bias steps
#: (a thread per unit), and in 2-D blocks of 32 x (this / 32) the weight step, the mini-batch
#: gather and the copy W^T. The product kernels' blocks are fixed by their tiles (32 units x
#: 32 chains per block, 128 threads: compile-time shared-memory shapes in that module). No
#: result depends on it.
RBM_CUDA_THREADS = 128

# -- ESN reservoirs on CUDA (reservoir/_device.py, kernels/cuda/reservoir.py) -------------------
#: Threads per block of the CUDA reservoir runs (a block per sequence, or per reservoir and
#: sequence in a batch of reservoirs): a multiple of 8 (a sparse slice's 8 rows go to 8
#: consecutive threads), at most 1024. 256 gives each thread about 4 rows of a 1000-unit
#: reservoir and keeps a few blocks on a multiprocessor. Not yet measured on a GPU; no result
#: depends on it beyond the order of the readout's sum in closed loop (rounding).
ESN_CUDA_THREADS = 256

#: Records per kernel call of a CUDA reservoir run (bytes of states and outputs, all sequences
#: and reservoirs together): a GPU does a CPU chunk's CHUNK_WORK in well under a millisecond, so
#: its chunks are sized by what comes back to the host instead. 64 MiB: a few ms over PCIe,
#: tens of ms of work for 1000-unit reservoirs; the launch and copy overheads are amortised and
#: the progress bar and Ctrl+C stay prompt. The numbers do not depend on it.
ESN_CUDA_CHUNK_BYTES = 64 << 20
