package dev.lake.linear;

import dev.lake.memory.NativeMemory;
import dev.lake.testing.HeapFiller;

/**
 * The child JVM of {@link SeventhReviewArenaTest}'s full-heap tests: prepares 400 arenas one step before a growth
 * of their bookkeeping (or before a handle is made), fills the 24 MiB heap, then takes that step on each arena,
 * freeing one filler every other arena so that each part of the step meets the {@code OutOfMemoryError} in turn.
 * An arena a refusal left changed, or that is broken once the heap is free again, is counted.
 */
public final class SeventhArenaFullHeapProbe
{
    private static final int ARENAS = 400;
    private static int counter;

    private SeventhArenaFullHeapProbe()
    {
    }

    public static void main(final String[] args)
    {
        final String mode = args[0];
        final long regionsBefore = NativeMemory.liveRegions();
        final Arena[] arenas = new Arena[ARENAS];
        final Transaction[] outers = new Transaction[ARENAS];
        final Checkpoint[] marks = new Checkpoint[ARENAS];
        final Runnable count = () -> counter++;
        for (int i = 0; i < ARENAS; i++)
        {
            arenas[i] = Arena.builder().initialBlockSize(64).maxBlockSize(64).build();
            prepare(mode, arenas[i], outers, marks, i, count);
        }
        int refused = 0;
        int done = 0;
        int changed = 0;
        final boolean[] wasRefused = new boolean[ARENAS];
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        for (int i = 0; i < ARENAS; i++)
        {
            if (i % 2 == 1 && !fillers.freeOne())
            {
                break;
            }
            try
            {
                step(mode, arenas[i], outers[i], marks[i], count);
                done++;
            }
            catch (final OutOfMemoryError ex)
            {
                refused++;
                wasRefused[i] = true;
                if (changedByRefusal(mode, arenas[i]))
                {
                    changed++;
                }
            }
        }
        fillers.freeAll();
        int broken = 0;
        for (int i = 0; i < ARENAS; i++)
        {
            try
            {
                if (!worksAfter(mode, arenas[i], outers[i], marks[i], count, wasRefused[i]))
                {
                    broken++;
                }
            }
            catch (final RuntimeException ex)
            {
                broken++;
                if (broken == 1)
                {
                    ex.printStackTrace(System.out);
                }
            }
            arenas[i].close();
        }
        System.out.println("probe " + mode + ": changed by a refusal " + changed + ", broken " + broken +
            ", regions left " + (NativeMemory.liveRegions() - regionsBefore) + " after " + refused + " refusals, " + done +
            " done");
        System.out.flush();
    }

    private static void prepare(final String mode, final Arena arena, final Transaction[] outers,
        final Checkpoint[] marks, final int i, final Runnable count)
    {
        switch (mode)
        {
            case "transaction":
                arena.transaction().close(); // loads and links the path before the heap is full
                break;
            case "cleanup":
                for (int k = 0; k < 8; k++)
                {
                    arena.defer(count); // the arrays hold 8: the next registration grows them
                }
                break;
            case "block":
                for (int k = 0; k < 8; k++)
                {
                    arena.allocate(64); // 8 blocks of 64 bytes: the next block grows the chain's arrays
                }
                break;
            case "cut":
                for (int k = 0; k < 8; k++)
                {
                    arena.allocate(16);
                    final Checkpoint cp = arena.checkpoint();
                    arena.allocate(16);
                    arena.rewind(cp); // 8 cuts, each above the last: the next one grows the cut stack
                }
                arena.allocate(16);
                marks[i] = arena.checkpoint();
                arena.allocate(16);
                break;
            default:
                throw new IllegalArgumentException(mode);
        }
    }

    private static void step(final String mode, final Arena arena, final Transaction outer, final Checkpoint mark,
        final Runnable count)
    {
        switch (mode)
        {
            case "transaction":
                arena.transaction().close();
                break;
            case "cleanup":
                arena.defer(count);
                break;
            case "block":
                arena.allocate(64);
                break;
            case "cut":
                arena.rewind(mark);
                break;
            default:
                throw new IllegalArgumentException(mode);
        }
    }

    private static boolean changedByRefusal(final String mode, final Arena arena)
    {
        switch (mode)
        {
            case "transaction":
                return arena.transactionDepth() != 0;
            case "block":
                return arena.bytesAllocated() != 8 * 64 || arena.blockCount() != 8;
            case "cut":
                return arena.bytesAllocated() != 9 * 16 + 16;
            default:
                return false;
        }
    }

    /** Whether the arena still works as it should once the heap is free again. */
    private static boolean worksAfter(final String mode, final Arena arena, final Transaction outer,
        final Checkpoint mark, final Runnable count, final boolean refused)
    {
        switch (mode)
        {
            case "transaction":
                arena.reset(); // refused while a transaction is open
                try (Transaction tx = arena.transaction())
                {
                    tx.allocate(8);
                }
                return arena.transactionDepth() == 0;
            case "cleanup":
            {
                for (int k = 0; k < 20; k++)
                {
                    arena.defer(count);
                }
                final int before = counter;
                arena.reset();
                return counter - before == (refused ? 28 : 29);
            }
            case "block":
                for (int k = 0; k < 20; k++)
                {
                    arena.allocate(64);
                }
                return arena.bytesAllocated() == (refused ? 28 : 29) * 64L && arena.blockCount() == (refused ? 28 : 29);
            case "cut":
            {
                arena.rewind(mark);
                for (int k = 0; k < 20; k++)
                {
                    arena.allocate(16);
                    final Checkpoint cp = arena.checkpoint();
                    arena.allocate(16);
                    arena.rewind(cp);
                }
                final boolean markValid = mark.isValid();
                arena.allocate(8);
                arena.rewind(mark);
                return markValid && arena.bytesAllocated() == 9 * 16;
            }
            default:
                return false;
        }
    }
}
