"""The control words and call constants shared by the spiking twin's launches
(:mod:`neurosim.kernels.cuda.spiking`, :mod:`neurosim.kernels.cuda.plasticity`).

``ctl`` (int64 on the device, written by the launches, read back once a call):
``[go0, go1, count0, count1, done, kk0, kk1]``; the launches of step ``s`` read the words of
parity ``s & 1``. ``cfg`` (int64, the call's constants): slots ``C_*``.
"""
GO = 0        # ctl[GO + parity]: 0 while the call runs steps
COUNT = 2     # ctl[COUNT + parity]: spikers of the step
DONE = 4      # ctl[DONE]: steps done in this call
KK = 5        # ctl[KK + parity]: the step (from the call's first) the launches of that parity run

(C_STEP0, C_KOFF, C_EVERY, C_ISTRIDE, C_LAST_I, C_RSTRIDE, C_LAST_P, C_N, C_P, C_CAP, C_LANES,
 C_HAS_I, C_HAS_GEN, C_HAS_RING, N_CFG) = range(15)
