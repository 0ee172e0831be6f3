package dev.lake.linear;

import dev.lake.memory.NativeMemory;
import dev.lake.testing.HeapFiller;

/**
 * Child JVM of {@link NinthFullHeapLakeTest}: builds and closes lakes and arenas on a small heap filled to the brim,
 * letting go of one heap filler before each try so that an {@link OutOfMemoryError} meets each heap allocation of
 * {@code build()} and {@code close()} in turn. The contract checked: a refused {@code build()} holds no region, and a
 * {@code close()} either frees the native memory now or throws with the allocator still open (a retry then frees it);
 * never a closed allocator whose memory waits for a GC and counts as a leak.
 *
 * <p>Modes: {@code lake-first-close} and {@code arena-first-close} close an allocator on the full heap before any
 * other close in this JVM (what the first close links then meets the full heap); {@code lake-cycles} and
 * {@code arena-cycles} warm up, then build and close many times. Prints
 * {@code probe: MODE broken B leaks L left-bytes N refused-builds RB refused-closes RC}: {@code broken} counts
 * refused builds that left a region held and refused closes that left the allocator closed with its memory held;
 * {@code leaks} the safety net's count meanwhile; {@code left-bytes} the native bytes still held once every
 * allocator was closed (read before the heap is freed, so before any GC the end could trigger).
 */
public final class NinthLifecycleFullHeapProbe
{
    private static int broken;
    private static int refusedBuilds;
    private static int refusedCloses;

    private NinthLifecycleFullHeapProbe()
    {
    }

    public static void main(final String[] args)
    {
        final String mode = args[0];
        final long baseline = NativeMemory.reservedBytes();
        final long leaksBefore = NativeMemory.leaks();
        switch (mode)
        {
            case "lake-first-close" -> lakeFirstClose();
            case "arena-first-close" -> arenaFirstClose();
            case "lake-cycles" -> cycles(true);
            case "arena-cycles" -> cycles(false);
            default -> throw new IllegalArgumentException(mode);
        }
        final long left = NativeMemory.reservedBytes() - baseline;
        System.out.println("probe: " + mode + " broken " + broken + " leaks " + (NativeMemory.leaks() - leaksBefore) +
            " left-bytes " + left + " refused-builds " + refusedBuilds + " refused-closes " + refusedCloses);
        System.out.flush();
    }

    private static void lakeFirstClose()
    {
        final long live = NativeMemory.liveRegions();
        final Lake lake = Lake.of(4096);
        lake.allocate(8);
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        closeOnFullHeap(lake, null, fillers, live);
        fillers.freeAll();
    }

    private static void arenaFirstClose()
    {
        final long live = NativeMemory.liveRegions();
        final Arena arena = Arena.builder().initialBlockSize(4096).build();
        arena.allocate(4096);
        arena.allocate(4096); // a second and a third block
        arena.allocate(8192);
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        closeOnFullHeap(null, arena, fillers, live);
        fillers.freeAll();
    }

    /** Closes, letting go of one filler before each retry, until it closes; counts a refusal that closed anyway. */
    private static void closeOnFullHeap(final Lake lake, final Arena arena, final HeapFiller fillers, final long live)
    {
        while (true)
        {
            try
            {
                if (lake != null)
                {
                    lake.close();
                }
                else
                {
                    arena.close();
                }
                if (NativeMemory.liveRegions() != live)
                {
                    broken++; // returned normally with its memory still held
                }
                return;
            }
            catch (final OutOfMemoryError refused)
            {
                refusedCloses++;
                final boolean closed = lake != null ? !lake.isOpen() : arena.isClosed();
                if (closed && NativeMemory.liveRegions() != live)
                {
                    broken++; // closed, its memory left to the safety net: a retry does nothing
                    return;
                }
                if (!fillers.freeOne())
                {
                    return;
                }
            }
        }
    }

    private static void cycles(final boolean lakes)
    {
        for (int i = 0; i < 3; i++) // links build and close before the heap is full
        {
            buildAndClose(lakes, null);
        }
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        for (int i = 0; i < 3000 && fillers.freeOne(); i++)
        {
            buildAndClose(lakes, fillers);
        }
        fillers.freeAll();
    }

    private static void buildAndClose(final boolean lakes, final HeapFiller fillers)
    {
        final long live = NativeMemory.liveRegions();
        final Lake lake;
        final Arena arena;
        try
        {
            if (lakes)
            {
                lake = Lake.builder(4096).zeroing(true).build();
                arena = null;
            }
            else
            {
                lake = null;
                arena = Arena.builder().initialBlockSize(4096).build();
            }
        }
        catch (final OutOfMemoryError refused)
        {
            refusedBuilds++;
            if (NativeMemory.liveRegions() != live)
            {
                broken++; // a refused build holding a region nobody can close
            }
            return;
        }
        if (arena != null)
        {
            try
            {
                arena.allocate(8192); // a second block: growth on the full heap too
            }
            catch (final OutOfMemoryError refused)
            {
                // a refused growth is the arena's own business (SeventhReviewArenaTest): closing it must still free all
            }
        }
        if (fillers == null)
        {
            if (lake != null)
            {
                lake.close();
            }
            else
            {
                arena.close();
            }
            return;
        }
        closeOnFullHeap(lake, arena, fillers, live);
    }
}
