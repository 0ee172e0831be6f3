package dev.lake.stress;

import dev.lake.memory.StaleHandleException;
import dev.lake.pool.FixedArena;

/**
 * Helpers shared by the stress tests: the codes they record for an outcome, and the clean-up every arbiter does
 * so that a test run gives back every native byte it took.
 */
final class Stress
{
    /** Recorded when a call succeeded. */
    static final int OK = 1;
    /** Recorded when a call threw {@link StaleHandleException}: the handle was no longer the caller's. */
    static final int STALE = 0;
    /** Recorded when a call threw anything else: never acceptable. */
    static final int OTHER = -9;

    private Stress()
    {
    }

    /**
     * @param failure what a call threw.
     * @return {@link #STALE} for a {@link StaleHandleException}, else {@link #OTHER}.
     */
    static int code(final RuntimeException failure)
    {
        return failure instanceof StaleHandleException ? STALE : OTHER;
    }

    /**
     * Releases every handle that is not {@link FixedArena#NO_HANDLE} (each holds one reference).
     *
     * @param arena   the arena.
     * @param handles the handles.
     */
    static void releaseAll(final FixedArena arena, final long... handles)
    {
        for (final long h : handles)
        {
            if (h != FixedArena.NO_HANDLE)
            {
                arena.release(h);
            }
        }
    }
}
