"""Prompt draws of the batched env, served from a block drawn ahead: the same draws, bit for bit.

``Generator.integers(high, size=a)`` followed by ``size=b`` gives the same values, and leaves
the generator in the same state, as one call with ``size=a + b``: each value is Lemire's
bounded draw from the bit generator's stream of 32-bit words, and the half-used 64-bit word
is part of the bit generator's state, so a call boundary changes nothing (numpy's PCG64,
MT19937, Philox and SFC64 alike: ``tests/test_prompt_draws.py``). A block of draws
made ahead therefore serves the next calls exactly, at the cost of a slice each, where every
``Generator.integers`` call costs several microseconds of fixed overhead (an autoreset step
of ``TextGenVectorEnv`` makes one). Whoever reads the generator gets it back at the logical
position (:meth:`PrefetchedIntegers.settle`), so seeds, checkpoints and draws made from
``env.np_random`` in between are exactly as without the block.
"""

from __future__ import annotations

import numpy as np

#: values drawn ahead at a time
BLOCK = 1024


class PrefetchedIntegers:
    """``generator.integers(high, size=count)`` served from a block of values drawn ahead.

    The block belongs to one generator and one ``high``; a call with another generator or
    another ``high``, or one that the block cannot serve, first settles the block (see
    :meth:`settle`) and then draws a new one.
    """

    def __init__(self, block: int = BLOCK) -> None:
        self.block = block
        self._forget()

    def _forget(self) -> None:
        self._generator: np.random.Generator | None = None
        self._high = 0
        self._origin: dict | None = None  # the bit generator's state before the block was drawn
        self._values = np.empty(0, dtype=np.int64)
        self._used = 0

    def integers(self, generator: np.random.Generator, high: int, count: int) -> np.ndarray:
        """The values ``generator.integers(high, size=count)`` would return now (a read-only view)."""
        if generator is not self._generator or high != self._high or self._used + count > len(self._values):
            self.settle()
            self._generator, self._high = generator, high
            self._origin = generator.bit_generator.state
            self._values = generator.integers(high, size=max(self.block, count))
            self._values.flags.writeable = False
        start = self._used
        self._used += count
        return self._values[start : self._used]

    def settle(self) -> None:
        """Put the generator where the values served so far leave it, and drop the block."""
        if self._generator is not None:
            self._generator.bit_generator.state = self._origin
            if self._used:
                self._generator.integers(self._high, size=self._used)
        self._forget()
