package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Regression test for what a review of {@link ArenaVec} found that could crash the JVM; the review's other findings
 * (copies from and into buffers of types Lake does not know that reset the arena) are tested in
 * {@code dev.lake.memory.MemoryReviewRegressionTest}, which found them too. It failed before its fix.
 */
class ArenaVecReviewRegressionTest
{
    /**
     * finish() gave the vector's unused capacity back by a cut below a checkpoint taken while the vector was the
     * last allocation: that checkpoint went stale though the caller never rewound past it, so rewinding to it threw
     * and the cleanup action registered after it ran only at close. The give-back now stops at such a checkpoint.
     */
    @Test
    void finishKeepsACheckpointTakenAfterTheVectorsLastGrowthValid()
    {
        try (Arena arena = new Arena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 16);
            vec.push(1L);
            final Checkpoint cp = arena.checkpoint();
            final int[] ran = {0};
            arena.defer(() -> ran[0]++);
            final ArenaView.OfLong view = vec.finish();
            assertTrue(cp.isValid(), "finish() made a checkpoint stale that nobody rewound past");
            arena.rewind(cp);
            assertEquals(1, ran[0], "the action registered after the checkpoint runs at the rewind");
            assertEquals(1L, view.get(0), "the finished elements lie below the checkpoint and stay");
            final long next = arena.allocate(8, 8);
            arena.buffer(next).putLong(Arena.offset(next), 42L);
            assertEquals(1L, view.get(0), "a later allocation does not land on the finished elements");
        }
    }

    /** finish() without a checkpoint inside the unused capacity still gives it all back. */
    @Test
    void finishWithoutACheckpointGivesTheUnusedCapacityBack()
    {
        try (Arena arena = new Arena())
        {
            final Checkpoint below = arena.checkpoint();
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 16);
            vec.push(1L);
            final long used = arena.stats().bytesAllocated();
            vec.finish();
            assertEquals(used - 15 * 8, arena.stats().bytesAllocated(), "the 15 unused longs went back");
            assertTrue(below.isValid(), "a checkpoint below the vector is not touched");
        }
    }

    /**
     * OfRecord.get(index, dst, dstIndex) of a vector and of its finished view checked the record, then called
     * dst.capacity() (code Lake may not know), then copied: a destination that closed the arena there made the copy
     * read the closed block's buffer (address 0 + offset), a JVM crash with Agrona's bounds checks off. In a child
     * JVM. (The resetting variant, which read another allocation's bytes, is in MemoryReviewRegressionTest.)
     */
    @Test
    void aRecordGetIntoADestinationThatClosesTheArenaIsRefusedNotACrash() throws Exception
    {
        final String out = dev.lake.testing.ChildJvm.run(ClosingDestinationProbe.class, false);
        assertTrue(out.contains("probe: vec refused") && out.contains("probe: view refused"), out);
    }

    /** The child JVM of {@link #aRecordGetIntoADestinationThatClosesTheArenaIsRefusedNotACrash()}. */
    public static final class ClosingDestinationProbe
    {
        private ClosingDestinationProbe()
        {
        }

        public static void main(final String[] args)
        {
            for (final boolean view : new boolean[]{false, true})
            {
                // a big record in a block of its own, so that the closed block is unmapped, not kept by malloc
                final int size = 4 << 20;
                final Arena arena = Arena.withCapacity(size);
                final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, size, 1);
                vec.pushZeroed();
                final ArenaView.OfRecord finished = view ? vec.finish() : null;
                final UnsafeBuffer dst = new UnsafeBuffer(new byte[size])
                {
                    @Override
                    public int capacity()
                    {
                        arena.close();
                        return super.capacity();
                    }
                };
                final String name = view ? "view" : "vec";
                try
                {
                    if (view)
                    {
                        finished.get(0, dst, 0);
                    }
                    else
                    {
                        vec.get(0, dst, 0);
                    }
                    System.out.println("probe: " + name + " NOT refused: read a closed arena");
                }
                catch (final StaleHandleException ex)
                {
                    System.out.println("probe: " + name + " refused (" + ex + ")");
                }
                System.out.flush();
            }
        }
    }
}
