package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class ArenaCheckpointTest
{
    @Test
    void rewindFreesWhatWasAllocatedSinceAndKeepsWhatWasBefore()
    {
        try (Arena arena = Arena.withCapacity(1024))
        {
            final long kept = arena.allocate(8, 8);
            arena.buffer(kept).putLong(Arena.offset(kept), 1);
            final Checkpoint cp = arena.checkpoint();
            final long allocated = arena.bytesAllocated();
            for (int i = 0; i < 10; i++)
            {
                arena.allocate(500, 8); // crosses several blocks
            }
            assertTrue(arena.blockCount() > 1);
            arena.rewind(cp);
            assertEquals(allocated, arena.bytesAllocated());
            assertEquals(1, arena.buffer(kept).getLong(Arena.offset(kept)));
            final long next = arena.allocate(8, 8);
            assertEquals(0, Arena.block(next));
            assertEquals(8, Arena.offset(next), "the freed memory is handed out again");
        }
    }

    @Test
    void rewindingToTheSameCheckpointTwiceAndToOlderOnesAtTheSamePositionIsFine()
    {
        try (Arena arena = new Arena())
        {
            arena.allocate(16, 8);
            final Checkpoint older = arena.checkpoint();
            final Checkpoint newer = arena.checkpoint();
            arena.allocate(32, 8);
            arena.rewind(newer);
            arena.allocate(32, 8);
            arena.rewind(newer);
            arena.rewind(older);
            arena.rewind(newer);
            assertEquals(16, arena.bytesAllocated());
            assertTrue(older.isValid());
            assertTrue(newer.isValid());
        }
    }

    @Test
    void rewindingBelowACheckpointMakesItStaleEvenAfterTheArenaGrowsPastItAgain()
    {
        try (Arena arena = new Arena())
        {
            final Checkpoint start = arena.checkpoint();
            arena.allocate(8, 8);
            final Checkpoint inside = arena.checkpoint(); // offset 8
            arena.rewind(start);
            arena.allocate(16, 8); // now offset 8 is in the middle of this allocation
            assertEquals(16, arena.bytesAllocated());
            assertFalse(inside.isValid());
            final StaleHandleException ex = assertThrows(StaleHandleException.class, () -> arena.rewind(inside));
            assertTrue(ex.getMessage().contains("stale"), ex.getMessage());
            assertEquals(16, arena.bytesAllocated(), "state unchanged by the failed rewind");
            assertTrue(start.isValid(), "a checkpoint at the very start is never stale");
        }
    }

    @Test
    void checkpointIsAnOpaqueValue()
    {
        try (Arena arena = new Arena())
        {
            arena.allocate(24, 8);
            final Checkpoint a = arena.checkpoint();
            final Checkpoint b = arena.checkpoint();
            assertEquals(a, b);
            assertEquals(a.hashCode(), b.hashCode());
            assertEquals(0, a.block());
            assertEquals(24, a.offset());
            assertTrue(a.toString().contains("offset 24"));
            try (Arena other = new Arena())
            {
                other.allocate(24, 8);
                assertNotEquals(a, other.checkpoint());
            }
        }
    }

    @Test
    void resetInvalidatesEveryCheckpointAboveTheStart()
    {
        try (Arena arena = new Arena())
        {
            final Checkpoint zero = arena.checkpoint();
            arena.allocate(8, 8);
            final Checkpoint cp = arena.checkpoint();
            arena.reset();
            assertFalse(cp.isValid());
            assertThrows(StaleHandleException.class, () -> arena.rewind(cp));
            assertTrue(zero.isValid());
            arena.rewind(zero);
        }
    }

    /**
     * Model check of exact staleness: random allocations, checkpoints, rewinds and resets; a brute-force oracle
     * says a checkpoint is valid iff no rewind since it was taken went strictly below it.
     */
    @Test
    void stalenessIsExactAgainstABruteForceOracle()
    {
        final SplittableRandom random = new SplittableRandom(42);
        int valid = 0;
        int stale = 0;
        for (int run = 0; run < 50; run++)
        {
            try (Arena arena = Arena.withCapacity(256))
            {
                final List<Checkpoint> checkpoints = new ArrayList<>();
                final List<Integer> takenAt = new ArrayList<>();
                final List<long[]> rewinds = new ArrayList<>(); // {time, position}
                int time = 0;
                for (int step = 0; step < 300; step++)
                {
                    time++;
                    final int op = random.nextInt(10);
                    if (op < 5)
                    {
                        arena.allocate(1 + random.nextInt(120), 1 << random.nextInt(4));
                    }
                    else if (op < 7)
                    {
                        checkpoints.add(arena.checkpoint());
                        takenAt.add(time);
                    }
                    else if (op < 9 && !checkpoints.isEmpty())
                    {
                        final int i = random.nextInt(checkpoints.size());
                        final Checkpoint cp = checkpoints.get(i);
                        final boolean expectValid = oracleValid(cp, takenAt.get(i), rewinds);
                        assertEquals(expectValid, cp.isValid(), "run " + run + " step " + step);
                        if (expectValid)
                        {
                            valid++;
                            final long before = position(arena);
                            arena.rewind(cp);
                            if (position(cp) < before)
                            {
                                rewinds.add(new long[]{time, position(cp)});
                            }
                            assertEquals(position(cp), position(arena));
                        }
                        else
                        {
                            stale++;
                            final long before = position(arena);
                            assertThrows(StaleHandleException.class, () -> arena.rewind(cp));
                            assertEquals(before, position(arena));
                        }
                    }
                    else
                    {
                        if (position(arena) > 0)
                        {
                            rewinds.add(new long[]{time, 0});
                        }
                        arena.reset();
                    }
                }
                for (int i = 0; i < checkpoints.size(); i++)
                {
                    assertEquals(oracleValid(checkpoints.get(i), takenAt.get(i), rewinds), checkpoints.get(i).isValid());
                }
            }
        }
        assertTrue(valid > 100 && stale > 100, "both outcomes exercised: " + valid + " valid, " + stale + " stale");
    }

    private static boolean oracleValid(final Checkpoint cp, final int takenAt, final List<long[]> rewinds)
    {
        for (final long[] rewind : rewinds)
        {
            if (rewind[0] > takenAt && rewind[1] < position(cp))
            {
                return false;
            }
        }
        return true;
    }

    private static long position(final Checkpoint cp)
    {
        return ((long)cp.block() << 32) | cp.offset();
    }

    private static long position(final Arena arena)
    {
        return position(arena.checkpoint());
    }
}
