package dev.lake.linear;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Eighth review of the growable arena ({@link Arena}, {@link ArenaVec}, {@link ArenaView}, {@link Transaction},
 * {@link Checkpoint}): each test fails without the fix named in its commit.
 */
class EighthReviewArenaTest
{
    /** A checked exception whose description is user code that fails. */
    static final class Rude extends Exception
    {
        private static final long serialVersionUID = 1L;

        @Override
        public String toString()
        {
            throw new IllegalStateException("toString refused");
        }

        @Override
        public String getMessage()
        {
            throw new IllegalStateException("getMessage refused");
        }
    }

    @Test
    void aCheckedCleanupFailureWhoseToStringThrowsStillCompletesTheRollback()
    {
        try (Arena arena = new Arena())
        {
            final long before = arena.bytesAllocated();
            final List<String> ran = new ArrayList<>();
            final Rude rude = new Rude();
            final CleanupException ex = assertThrows(CleanupException.class, () ->
            {
                try (Transaction tx = arena.transaction())
                {
                    arena.defer(() -> ran.add("first"));
                    arena.deferClose(() ->
                    {
                        ran.add("rude");
                        throw rude;
                    });
                    arena.defer(() -> ran.add("last"));
                    arena.allocate(64);
                } // not committed: rolled back here
            });
            assertSame(rude, ex.getCause());
            assertEquals(List.of("last", "rude", "first"), ran, "every cleanup action ran");
            assertEquals(0, arena.transactionDepth(), "the rollback completed: no transaction is left open");
            assertEquals(before, arena.bytesAllocated(), "the rollback gave the bytes back");
            arena.reset(); // not refused for good by a transaction nobody can end
        }
    }

    @Test
    void aCheckedCleanupFailureWhoseToStringThrowsStillCompletesTheClose()
    {
        final Arena arena = new Arena();
        final List<String> ran = new ArrayList<>();
        arena.defer(() -> ran.add("first"));
        arena.deferClose(() ->
        {
            throw new Rude();
        });
        final CleanupException ex = assertThrows(CleanupException.class, arena::close);
        assertInstanceOf(Rude.class, ex.getCause());
        assertEquals(List.of("first"), ran);
        assertTrue(arena.isClosed(), "the close completed: its blocks are freed");
        assertEquals(0, arena.stats().bytesReserved());
    }

    /**
     * A rollback's cleanup pass wrapped a checked failure in a CleanupException and suppressed later failures on it
     * inside its catch block: a full heap refusing the wrapper or the suppressed list threw out of the pass, so the
     * older actions never ran and the rollback was not done (the transaction left open, reset() refused for good).
     */
    @Test
    void aCleanupFailureRecordedOnAFullHeapStillCompletesTheRollback() throws Exception
    {
        final String out = dev.lake.testing.ChildJvm.runOnSmallHeap(EighthArenaFullHeapProbe.class);
        assertTrue(out.contains("probe cleanup failures: unfinished rollbacks 0, counting action ran "), out);
        final java.util.regex.Matcher m = java.util.regex.Pattern.compile(
            "counting action ran (\\d+) times for (\\d+) rollbacks, regions left 0 after (\\d+) refusals").matcher(out);
        assertTrue(m.find(), out);
        assertEquals(m.group(2), m.group(1), "the counting action ran once per rollback: " + out);
        assertNotEquals("0", m.group(3), "the heap did refuse some: " + out);
    }
}
