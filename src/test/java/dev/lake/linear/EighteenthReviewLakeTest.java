package dev.lake.linear;

import dev.lake.thread.ThreadLakes;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The eighteenth review of the fixed-capacity lake ({@code dev.lake.linear}: Lake, LakeView, Droplet, Sandbox) and its
 * thread lakes ({@code dev.lake.thread}). Each test fails on the code as reviewed.
 */
class EighteenthReviewLakeTest
{
    /**
     * Sandbox's class comment: "close() without commit rewinds to where the sandbox opened (droplets, views, snapshots
     * and marks made inside become invalid or are discarded)". A mark pushed inside the sandbox before its first
     * allocation lies at the sandbox's start, and the rollback's rewind to that start keeps it: after the rollback the
     * mark stack is one deeper than before the sandbox. The enclosing code's own {@code resetToMark()} then pops the
     * sandbox's leftover mark instead of its own: its scratch is not given back, and its mark stays pushed for the
     * next reset (every scope above is now off by one).
     */
    @Test
    void aMarkPushedInsideARolledBackSandboxIsDiscarded()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(64);
            lake.mark();                            // the enclosing scope's mark
            final int outerStart = lake.position();
            lake.allocate(128);                     // the enclosing scope's scratch
            try (Sandbox sandbox = lake.sandbox())
            {
                lake.mark();                        // a mark made inside the sandbox (its first act)
                sandbox.allocate(256);
            }                                       // not committed: rolled back
            assertEquals(1, lake.markDepth(), "the rolled-back sandbox's mark was discarded");
            lake.resetToMark();                     // the enclosing scope ends
            assertEquals(outerStart, lake.position(), "the enclosing scope's reset gave its scratch back");
            assertEquals(0, lake.markDepth());
        }
    }

    /**
     * {@code rewind(snapshot)}'s Javadoc said "marks pushed since are discarded", yet a mark pushed right after the
     * snapshot lies at its position and survives the rewind. A snapshot is a position, not a scope: the Javadoc now
     * says that marks above its position are discarded and one at it stays. This guards what it says.
     */
    @Test
    void aRewindToASnapshotDiscardsTheMarksAboveItAndKeepsOneAtIt()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.mark();                            // the caller's mark at 0
            lake.allocate(128);
            final LakeSnapshot snapshot = lake.snapshot();
            lake.mark();                            // pushed since the snapshot, at its position
            lake.allocate(256);
            lake.mark();                            // pushed since the snapshot, above its position
            lake.allocate(64);
            lake.rewind(snapshot);
            assertEquals(2, lake.markDepth(), "the mark above the snapshot is discarded, the one at it stays");
            lake.resetToMark();
            assertEquals(128, lake.position());
            lake.resetToMark();
            assertEquals(0, lake.position(), "the caller's resetToMark() reached its own mark");
        }
    }

    /** The token form of a sandbox drops the marks pushed inside it as well, and a commit keeps them. */
    @Test
    void aTokenSandboxRollbackDiscardsItsMarksAndACommitKeepsThem()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.mark();
            final long rolledBack = lake.beginSandbox();
            lake.mark();
            lake.allocate(64);
            lake.mark();
            lake.endSandbox(rolledBack);
            assertEquals(1, lake.markDepth(), "both marks pushed inside the ended sandbox are discarded");
            assertEquals(0, lake.position());

            final long committed = lake.beginSandbox();
            lake.mark();
            lake.allocate(64);
            lake.commitSandbox(committed);
            lake.endSandbox(committed);             // already committed: does nothing
            assertEquals(2, lake.markDepth(), "a committed sandbox keeps the marks pushed inside it");
            assertEquals(64, lake.position());
        }
    }

    /**
     * A mark at the sandbox's start pushed before it and popped inside it stays popped; the rollback truncates the
     * mark stack, it never restores one.
     */
    @Test
    void aMarkPoppedInsideASandboxAtItsStartStaysPopped()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(32);
            lake.mark();
            try (Sandbox sandbox = lake.sandbox())
            {
                lake.resetToMark();                 // at the sandbox's start: the sandbox stays open
                assertEquals(1, lake.openSandboxes());
                sandbox.allocate(64);
            }
            assertEquals(0, lake.markDepth());
            assertEquals(32, lake.position());
        }
    }

    /**
     * {@code endSandboxes(depth)}: rolls back and ends what is open above {@code depth}, innermost first; their
     * handles close quietly and refuse commit; a negative depth is refused; a closed lake is left alone.
     */
    @Test
    void endSandboxesRollsBackEveryInnerSandboxAndLeavesTheirHandlesStale()
    {
        final Lake lake = Lake.of(4096);
        lake.allocate(16);
        final Sandbox kept = lake.sandbox();
        lake.allocate(16);
        final Sandbox inner = lake.sandbox();
        lake.mark();
        lake.allocate(16);
        final long token = lake.beginSandbox();
        lake.allocate(16);
        assertThrows(IllegalArgumentException.class, () -> lake.endSandboxes(-1));
        assertEquals(3, lake.openSandboxes(), "a refused call changes nothing");
        lake.endSandboxes(1);
        assertEquals(1, lake.openSandboxes());
        assertEquals(32, lake.position(), "rolled back to the start of the outermost sandbox ended");
        assertEquals(0, lake.markDepth(), "the mark pushed inside the ended sandbox is gone");
        final dev.lake.memory.StaleHandleException stale =
            assertThrows(dev.lake.memory.StaleHandleException.class, inner::commit);
        org.junit.jupiter.api.Assertions.assertTrue(stale.getMessage().contains("endSandboxes"), stale.getMessage());
        inner.close();                              // quietly
        lake.endSandbox(token);                     // quietly
        lake.endSandboxes(5);                       // fewer open: nothing
        assertEquals(1, lake.openSandboxes());
        kept.commit();
        assertEquals(32, lake.position());
        lake.close();
        lake.endSandboxes(0);                       // closed: nothing, no exception
        assertEquals(0, lake.openSandboxes());
    }

    /** The same on a view: only the view's sandboxes end, the lake's stay open. */
    @Test
    void endSandboxesOnAViewEndsOnlyTheViewsSandboxes()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Sandbox onLake = lake.sandbox();
            final LakeView view = lake.split(1024);
            view.allocate(8);
            view.beginSandbox();
            view.allocate(8);
            view.endSandboxes(0);
            assertEquals(0, view.openSandboxes());
            assertEquals(8, view.used());
            assertEquals(1, lake.openSandboxes());
            onLake.close();
        }
    }

    /**
     * {@code ThreadLakes.with(work)} "restores the lake's position afterwards, whether it returns or throws ... marks
     * {@code work} leaves pushed are discarded". A sandbox {@code work} opened before its first allocation (a token
     * whose {@code endSandbox} the failing body never reached) lies at with()'s mark and survives the restore: the
     * thread's lake comes back with one more open sandbox than it had. A request-level sandbox the caller opened around
     * the with() can then neither commit nor close (both throw "1 sandbox(es) opened inside it are still open"), and no
     * handle exists to end the leaked one: the caller's scope is stuck until a reset.
     */
    @Test
    void withGivesTheLakeBackWithNoSandboxTheWorkLeftOpen()
    {
        try (ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(1).build())
        {
            final Lake lake = lakes.init();
            lake.allocate(64);
            final Sandbox request = lake.sandbox();
            assertThrows(IllegalStateException.class, () -> lakes.with(l ->
            {
                l.beginSandbox();                   // ended in no finally: the body fails before it
                l.allocate(32);
                throw new IllegalStateException("the decoder failed");
            }));
            assertEquals(64, lake.position(), "with() restored the position");
            assertEquals(1, lake.openSandboxes(), "with() gave the lake back with only the caller's sandbox open");
            request.commit();                       // the caller's own scope still ends
            assertEquals(0, lake.openSandboxes());
            lakes.release();
        }
    }
}
