package dev.lake.linear;

import dev.lake.memory.NativeMemory;
import dev.lake.testing.HeapFiller;

/**
 * The child JVM of {@link EighthReviewArenaTest}'s full-heap test: prepares 400 arenas, each with an open
 * transaction holding three cleanup actions (a resource whose close throws a checked exception, a counting action,
 * and another throwing resource, so that a rollback must wrap the first failure in a {@link CleanupException} and
 * suppress the second on it), fills the 24 MiB heap, then closes each transaction, freeing one filler every other
 * arena so that the wrapper and the suppressed list each meet the {@code OutOfMemoryError} in turn. Counts the
 * arenas whose rollback did not complete (the transaction still open, the counting action not run).
 */
public final class EighthArenaFullHeapProbe
{
    private static final int ARENAS = 400;
    private static final Exception FIRST = new Exception("first checked failure");
    private static final Exception SECOND = new Exception("second checked failure");
    private static int counter;

    private EighthArenaFullHeapProbe()
    {
    }

    private static Transaction prepare(final Arena arena)
    {
        final Transaction tx = arena.transaction();
        arena.deferClose(() ->
        {
            throw FIRST;
        });
        arena.defer(() -> counter++);
        arena.deferClose(() ->
        {
            throw SECOND;
        });
        arena.allocate(16);
        return tx;
    }

    public static void main(final String[] args)
    {
        final long regionsBefore = NativeMemory.liveRegions();
        try (Arena warm = Arena.builder().initialBlockSize(64).build())
        {
            prepare(warm).close(); // loads and links the path before the heap is full
        }
        catch (final CleanupException expected)
        {
            counter = 0;
        }
        final Arena[] arenas = new Arena[ARENAS];
        final Transaction[] txs = new Transaction[ARENAS];
        for (int i = 0; i < ARENAS; i++)
        {
            arenas[i] = Arena.builder().initialBlockSize(64).maxBlockSize(64).build();
            txs[i] = prepare(arenas[i]);
        }
        int refused = 0;
        int done = 0;
        final boolean[] tried = new boolean[ARENAS];
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        for (int i = 0; i < ARENAS; i++)
        {
            if (i % 2 == 1 && !fillers.freeOne())
            {
                break;
            }
            tried[i] = true;
            try
            {
                txs[i].close();
                done++;
            }
            catch (final OutOfMemoryError ex)
            {
                refused++;
            }
            catch (final CleanupException ex)
            {
                done++;
            }
        }
        fillers.freeAll();
        final int ran = counter; // before the closes below run what a cut-short pass left behind
        int unfinished = 0;
        for (int i = 0; i < ARENAS; i++)
        {
            if (tried[i] && (arenas[i].transactionDepth() != 0 || arenas[i].bytesAllocated() != 0))
            {
                unfinished++;
            }
            try
            {
                arenas[i].close();
            }
            catch (final RuntimeException ex)
            {
                // the cleanups a cut-short pass left behind run (and fail) here
            }
        }
        System.out.println("probe cleanup failures: unfinished rollbacks " + unfinished + ", counting action ran " +
            ran + " times for " + (refused + done) + " rollbacks, regions left " +
            (NativeMemory.liveRegions() - regionsBefore) + " after " + refused + " refusals, " + done + " done");
        System.out.flush();
    }
}
