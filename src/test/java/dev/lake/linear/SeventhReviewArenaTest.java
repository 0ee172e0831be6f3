package dev.lake.linear;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The seventh review of the growable arena (Arena, Transaction, Checkpoint, ArenaVec, ArenaView): each bug's test
 * fails without its fix; the contract tests pin documented behaviour that no earlier test covered.
 */
class SeventhReviewArenaTest
{
    /** A resource that is also a task: what {@code deferClose} must do with it is close it. */
    private static final class Task implements Runnable, AutoCloseable
    {
        private final List<String> log;
        private final boolean failClose;

        Task(final List<String> log, final boolean failClose)
        {
            this.log = log;
            this.failClose = failClose;
        }

        @Override
        public void run()
        {
            log.add("run");
        }

        @Override
        public void close() throws IOException
        {
            log.add("close");
            if (failClose)
            {
                throw new IOException("close failed");
            }
        }
    }

    /**
     * Cleanup actions were told apart by type when they ran (a Runnable was run), so a resource registered with
     * deferClose that also implements Runnable had its run() called instead of its close(): the work ran again and
     * the resource was never closed.
     */
    @Test
    void deferCloseClosesAResourceThatIsAlsoARunnable()
    {
        final List<String> log = new ArrayList<>();
        try (Arena arena = new Arena())
        {
            final Checkpoint cp = arena.checkpoint();
            arena.deferClose(new Task(log, false));
            arena.rewind(cp);
            assertEquals(List.of("close"), log);
            try (Transaction tx = arena.transaction())
            {
                tx.deferClose(new Task(log, false));
            }
            assertEquals(List.of("close", "close"), log);
            arena.deferClose(new Task(log, true));
            final CleanupException ex = assertThrows(CleanupException.class, arena::reset);
            assertInstanceOf(IOException.class, ex.getCause(), "the checked failure of close() is wrapped");
            assertEquals(List.of("close", "close", "close"), log);
            assertEquals(0, arena.bytesAllocated());
            // defer() of the same object still runs it
            arena.defer(new Task(log, false));
        }
        assertEquals(List.of("close", "close", "close", "run"), log);
    }

    private static void assertFullHeapProbe(final String mode) throws Exception
    {
        final String out = dev.lake.testing.ChildJvm.runOnSmallHeap(SeventhArenaFullHeapProbe.class, mode);
        assertTrue(out.contains("probe " + mode + ": changed by a refusal 0, broken 0, regions left 0 after "), out);
        assertFalse(out.contains(" after 0 refusals"), out); // the heap did refuse some
    }

    /**
     * The chain's three arrays (blocks, buffers, bytes before each block) grew one after the other, after the new
     * block's region was made: a full heap refusing a copy left that region unreferenced (native memory held until
     * the leak net found it) and, when the first copy had succeeded, arrays of different lengths, so that every later
     * new block of that arena failed with ArrayIndexOutOfBoundsException (and leaked its region too).
     */
    @Test
    void aNewBlockRefusedByAFullHeapLeaksNothingAndLeavesTheArenaWorking() throws Exception
    {
        assertFullHeapProbe("block");
    }

    /**
     * The cleanup arrays grew one after the other: a full heap refusing the second left them of different lengths,
     * and every later defer() of that arena failed with ArrayIndexOutOfBoundsException without registering its action.
     */
    @Test
    void aCleanupRegistrationRefusedByAFullHeapLeavesTheArenaWorking() throws Exception
    {
        assertFullHeapProbe("cleanup");
    }

    /**
     * The cut stack's two arrays grew one after the other, after the clock had ticked: a full heap refusing the second
     * left them of different lengths, and every later rewind that needed the stack's growth failed with
     * ArrayIndexOutOfBoundsException, its checkpoint unusable.
     */
    @Test
    void aRewindRefusedByAFullHeapLeavesTheArenaAndItsCheckpointWorking() throws Exception
    {
        assertFullHeapProbe("cut");
    }

    /**
     * transaction() opened the transaction and then made its handle: a full heap refusing the handle left a
     * transaction open that nothing could end (no handle, no token), so the arena refused reset() for good and every
     * later allocation belonged to it. The open is now undone when the handle is refused.
     */
    @Test
    void aTransactionWhoseHandleIsRefusedByAFullHeapIsNotLeftOpen() throws Exception
    {
        assertFullHeapProbe("transaction");
    }

    /**
     * withTransaction closed its transaction with try-with-resources, which adds the rollback's failure to the body's
     * exception without comparing them: a preallocated exception (the allocation-free kind low-latency code throws)
     * thrown by the body and again by a cleanup action of the transaction reached the caller as
     * IllegalArgumentException("Self-suppression not permitted"); withTransactionInfallible did the same.
     */
    @Test
    void aPreallocatedExceptionThrownByTheBodyAndACleanupReachesTheCaller()
    {
        final RuntimeException preallocated = new RuntimeException("preallocated", null, false, false)
        {
            private static final long serialVersionUID = 1L;
        };
        try (Arena arena = new Arena())
        {
            final RuntimeException thrown = assertThrows(RuntimeException.class, () -> arena.withTransaction(tx ->
            {
                tx.allocate(64);
                tx.defer(() ->
                {
                    throw preallocated;
                });
                throw preallocated;
            }));
            assertSame(preallocated, thrown);
            assertEquals(0, arena.transactionDepth());
            assertEquals(0, arena.bytesAllocated(), "rolled back");

            final RuntimeException infallible = assertThrows(RuntimeException.class, () ->
                arena.withTransactionInfallible(tx ->
                {
                    tx.allocate(64);
                    final Transaction left = tx.savepoint(); // left open: rolled back before the commit
                    left.allocate(32);
                    left.defer(() ->
                    {
                        throw preallocated;
                    });
                    throw preallocated;
                }));
            assertSame(preallocated, infallible);
            assertEquals(0, arena.transactionDepth());
            assertEquals(64, arena.bytesAllocated(), "committed, the savepoint rolled back");

            // a different exception from the cleanup is still kept as suppressed
            final RuntimeException other = new IllegalStateException("cleanup");
            final RuntimeException body = new IllegalArgumentException("body");
            final RuntimeException both = assertThrows(RuntimeException.class, () -> arena.withTransaction(tx ->
            {
                tx.defer(() ->
                {
                    throw other;
                });
                throw body;
            }));
            assertSame(body, both);
            assertArrayEquals(new Throwable[] {other}, both.getSuppressed());
            assertEquals(Integer.valueOf(42), arena.<Integer, RuntimeException>withTransaction(tx -> 42));
            assertEquals(0, arena.transactionDepth());
        }
    }
}
