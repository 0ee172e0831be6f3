package dev.lake.linear;

import dev.lake.pool.Buffer;
import dev.lake.pool.FixedArena;
import org.agrona.MutableDirectBuffer;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Regression tests from the review of the foreign-buffer ordering fixes (Droplet.getBytes, ArenaVec/ArenaView
 * record get through Memory.copyOut).
 */
class FixReviewRegressionTest
{
    private static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();

    private static long allocated()
    {
        return THREADS.getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    /**
     * Droplet.getBytes and the record gets were allocation-free into any destination; since they go through
     * Memory.copyOut, Lake's own pool view ({@link Buffer#mutableBuffer()}) was treated as foreign code and got a
     * fresh byte[] per call, although their Javadoc promises no allocation into Lake's own buffers.
     */
    @Test
    void copiesIntoAPoolBuffersViewAllocateNothing()
    {
        assertTrue(THREADS.isThreadAllocatedMemorySupported());
        THREADS.setThreadAllocatedMemoryEnabled(true);
        final int size = 64;
        try (Lake lake = Lake.of(4096); FixedArena pool = FixedArena.builder(2, 256).build())
        {
            final Arena arena = Arena.withCapacity(1 << 16);
            final Droplet d = lake.droplet(size);
            for (int i = 0; i < size; i++)
            {
                d.putByte(i, (byte)i);
            }
            final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, size, 2);
            vec.pushZeroed();
            final ArenaVec.OfRecord other = ArenaVec.ofRecords(arena, size, 1);
            other.pushZeroed();
            final ArenaView.OfRecord view = other.finish();
            final Buffer b = pool.allocate();
            final MutableDirectBuffer dst = b.mutableBuffer();
            for (int i = 0; i < 20_000; i++) // warm up, and let any one-time allocation happen
            {
                d.getBytes(0, dst, 0, size);
                vec.get(0, dst, 0);
                view.get(0, dst, 0);
            }
            final long before = allocated();
            for (int i = 0; i < 10_000; i++)
            {
                d.getBytes(0, dst, 0, size);
                vec.get(0, dst, 0);
                view.get(0, dst, 0);
            }
            final long used = allocated() - before;
            assertTrue(used < 4096, "copies into a Lake pool view allocated " + used + " B over 30,000 calls");
            d.getBytes(0, dst, 0, size);
            for (int i = 0; i < size; i++)
            {
                assertEquals((byte)i, dst.getByte(i));
            }
            b.close();
            arena.close();
        }
    }
}
