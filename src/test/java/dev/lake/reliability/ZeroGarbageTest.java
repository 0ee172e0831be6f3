package dev.lake.reliability;

import dev.lake.linear.Arena;
import dev.lake.linear.Lake;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.FixedArena;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.LongInit;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceReader;
import dev.lake.thread.ThreadLakes;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The zero-garbage claims, as a unit-level guard beside JMH's {@code -prof gc}: each path the docs call
 * allocation-free in steady state runs {@value #OPS} times after a warm-up, on this thread, and the bytes this
 * thread allocated meanwhile must stay under {@value #SLACK} in total (one-off costs such as a lazily built table
 * fit; a per-operation object of even 16 bytes would be {@code 16 * OPS}). Only paths that allocate nothing by
 * construction are here, not those that rely on escape analysis removing a small object (droplets, snapshots,
 * sandbox objects): those depend on the JIT and are measured in {@code docs/benchmarks.md} instead.
 */
class ZeroGarbageTest
{
    private static final int WARMUP = 20_000;
    private static final int OPS = 200_000;
    private static final long SLACK = 4096;
    private static final LongInit INDEX = i -> i;
    private static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();

    private static long sink;

    @BeforeAll
    static void enable()
    {
        assertTrue(THREADS.isThreadAllocatedMemorySupported());
        THREADS.setThreadAllocatedMemoryEnabled(true);
    }

    /** Runs {@code op} WARMUP times, then OPS times, and returns the bytes this thread allocated in the second run. */
    private static long allocatedBy(final Runnable op)
    {
        for (int i = 0; i < WARMUP; i++)
        {
            op.run();
        }
        final long id = Thread.currentThread().getId();
        final long before = THREADS.getThreadAllocatedBytes(id);
        for (int i = 0; i < OPS; i++)
        {
            op.run();
        }
        return THREADS.getThreadAllocatedBytes(id) - before;
    }

    private static void assertNoGarbage(final String path, final Runnable op)
    {
        final long bytes = allocatedBy(op);
        assertTrue(bytes < SLACK, () -> path + " allocated " + bytes + " bytes over " + OPS + " operations (" +
            (double)bytes / OPS + " B/op): it is documented as allocation-free");
    }

    /** The guard itself can fail: a path that boxes one long per call is caught. */
    @Test
    void theGuardCatchesAPathThatAllocates()
    {
        final Object[] box = new Object[1];
        final long bytes = allocatedBy(() -> box[0] = Long.valueOf(sink++ | 1L << 40));
        assertTrue(bytes >= 16L * OPS, () -> "boxing measured only " + bytes + " bytes");
    }

    @Test
    void lakePrimitiveTierMarksAndSandboxTokens()
    {
        try (Lake lake = Lake.builder(1 << 16).build())
        {
            final UnsafeBuffer buffer = lake.buffer();
            assertNoGarbage("Lake allocate + write + reset", () ->
            {
                int at = lake.tryAllocate(64);
                if (at < 0)
                {
                    lake.reset();
                    at = lake.allocate(64);
                }
                buffer.putLong(at, at);
            });
            lake.reset();
            assertNoGarbage("Lake mark + 8 allocations + resetToMark", () ->
            {
                lake.mark();
                for (int i = 0; i < 8; i++)
                {
                    buffer.putLong(lake.allocate(64), i);
                }
                lake.resetToMark();
            });
            assertNoGarbage("Lake sandbox token begin + allocate + end", () ->
            {
                final long token = lake.beginSandbox();
                buffer.putLong(lake.allocate(64), token);
                lake.endSandbox(token);
            });
            assertEquals(0, lake.used());
        }
    }

    @Test
    void arenaAllocationResetAndTransactionTokens()
    {
        try (Arena arena = Arena.withCapacity(1 << 16))
        {
            assertNoGarbage("Arena 16 allocations + reset", () ->
            {
                for (int i = 0; i < 16; i++)
                {
                    final long ref = arena.allocate(64);
                    arena.buffer(ref).putLong(Arena.offset(ref), i);
                }
                arena.reset();
            });
            assertNoGarbage("Arena transaction token + allocations + commit", () ->
            {
                final long tx = arena.beginTransaction();
                try
                {
                    for (int i = 0; i < 4; i++)
                    {
                        final long ref = arena.allocate(64);
                        arena.buffer(ref).putLong(Arena.offset(ref), i);
                    }
                    arena.commitTransaction(tx);
                }
                finally
                {
                    arena.endTransaction(tx);
                }
                arena.reset();
            });
        }
    }

    @Test
    void poolHandleTiers()
    {
        try (FixedArena fixed = FixedArena.builder(64, 4096).build();
             BuddyArena buddy = BuddyArena.builder(1 << 16, 64).build())
        {
            assertNoGarbage("FixedArena handle allocate + write + freeze + read + release", () ->
            {
                final long handle = fixed.allocateHandle();
                fixed.putLong(handle, 0, 42L);
                fixed.freezeHandle(handle, 8);
                sink += fixed.getLong(handle, 0);
                fixed.release(handle);
            });
            assertNoGarbage("BuddyArena handle allocate + write + freeze + read + release", () ->
            {
                final long handle = buddy.allocateHandle(1000);
                buddy.putLong(handle, 0, 42L);
                buddy.freezeHandle(handle, 8);
                sink += buddy.getLong(handle, 0);
                buddy.release(handle);
            });
            assertEquals(0, fixed.metrics().liveSlots());
        }
    }

    @Test
    void slicePrimitiveTierAndLocalSlices()
    {
        try (SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).build())
        {
            final SliceReader reader = new SliceReader();
            assertNoGarbage("slice reference allocate + read + retain + release x2", () ->
            {
                final long ref = alloc.allocateLongsRef(32, INDEX);
                for (int i = 0; i < 32; i++)
                {
                    sink += alloc.getLong(ref, i);
                }
                alloc.retain(ref);
                alloc.release(ref);
                alloc.release(ref);
            });
            assertNoGarbage("slice reference adopted by a reusable reader", () ->
            {
                try (SliceReader r = reader.adopt(alloc, alloc.allocateLongsRef(32, INDEX)))
                {
                    sink += r.getLong(31);
                }
            });
            assertNoGarbage("local slice into a reusable reader", () ->
            {
                try (SliceReader r = alloc.allocateLocalLongs(32, INDEX, reader))
                {
                    sink += r.getLong(31);
                }
            });
            assertEquals(0, alloc.stats().liveSliceBytes());
        }
    }

    /** A body for ThreadLakes.with: scratch work that returns nothing, so nothing is boxed. */
    private static Void scratch(final Lake lake)
    {
        sink += lake.buffer().getLong(lake.allocate(64));
        return null;
    }

    @Test
    void threadLakesWithANonCapturingBody()
    {
        try (ThreadLakes lakes = ThreadLakes.builder(1 << 16).build())
        {
            lakes.init();
            assertNoGarbage("ThreadLakes.with(non-capturing body)", () -> lakes.with(ZeroGarbageTest::scratch));
            lakes.release();
        }
    }
}
