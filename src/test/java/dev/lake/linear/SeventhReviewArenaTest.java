package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

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

    private static void assertRefusedAndUnchanged(final Arena arena, final Class<? extends Throwable> type,
        final Executable misuse)
    {
        final ArenaStats before = arena.stats();
        final int depth = arena.transactionDepth();
        assertThrows(type, misuse);
        assertEquals(before, arena.stats(), "a refused call changes nothing");
        assertEquals(depth, arena.transactionDepth());
    }

    /** Contract: every documented misuse throws its documented type and leaves the arena exactly as it was. */
    @Test
    void documentedMisuseThrowsItsTypeAndChangesNothing()
    {
        try (Arena arena = Arena.withCapacity(1024); Arena other = new Arena())
        {
            arena.allocate(24);
            final Checkpoint early = arena.checkpoint();
            arena.allocate(8);
            final Checkpoint late = arena.checkpoint();
            arena.allocate(8);
            arena.rewind(early);
            arena.allocate(40);
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> arena.allocate(0));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> arena.allocate(Integer.MIN_VALUE));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> arena.allocate(8, 3));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> arena.allocate(8, 8192));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> arena.tryAllocate(8, -8));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class,
                () -> arena.allocateArray(Integer.MAX_VALUE, 8));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> arena.allocateArray(1 << 29, 4));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> arena.allocateArray(0, 8));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> arena.allocateArray(4, 12));
            assertRefusedAndUnchanged(arena, IndexOutOfBoundsException.class,
                () -> arena.copyOf(new byte[4], 2, Integer.MAX_VALUE));
            assertRefusedAndUnchanged(arena, IndexOutOfBoundsException.class,
                () -> arena.tryCopyOf(new UnsafeBuffer(new byte[4]), -1, 2));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> arena.rewind(other.checkpoint()));
            assertRefusedAndUnchanged(arena, StaleHandleException.class, () -> arena.rewind(late));
            assertRefusedAndUnchanged(arena, NullPointerException.class, () -> arena.defer(null));
            assertRefusedAndUnchanged(arena, NullPointerException.class, () -> arena.deferClose(null));
            assertRefusedAndUnchanged(arena, IllegalStateException.class, () -> arena.commitTransaction(0));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class,
                () -> ArenaVec.ofLongs(arena).reserve(Integer.MAX_VALUE));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> ArenaVec.ofLongs(arena, -1));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class,
                () -> ArenaVec.ofRecords(arena, 1 << 20, 1 << 12));
            assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> ArenaVec.ofRecords(arena, 0));

            try (Transaction tx = arena.transaction())
            {
                tx.allocate(8);
                final Transaction sp = tx.savepoint();
                sp.allocate(8);
                assertRefusedAndUnchanged(arena, IllegalStateException.class, arena::reset);
                assertRefusedAndUnchanged(arena, IllegalStateException.class, () -> arena.rewind(early));
                assertRefusedAndUnchanged(arena, IllegalStateException.class, () -> arena.rewind(tx.checkpoint()));
                assertRefusedAndUnchanged(arena, IllegalStateException.class, tx::commit);
                assertRefusedAndUnchanged(arena, IllegalStateException.class, () -> tx.allocate(8));
                assertRefusedAndUnchanged(arena, IllegalStateException.class, () -> tx.defer(() -> { }));
                assertRefusedAndUnchanged(arena, IllegalStateException.class, tx::savepoint);
                assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> sp.setLimit(-1));
                assertRefusedAndUnchanged(arena, IllegalArgumentException.class, () -> sp.setLimit(Long.MIN_VALUE));
                sp.setLimit(16);
                assertRefusedAndUnchanged(arena, BudgetExceededException.class, () -> sp.allocate(16));
                assertEquals(Arena.NULL, sp.tryAllocate(16, 8));
                assertRefusedAndUnchanged(arena, BudgetExceededException.class, () -> arena.allocate(2048));
                assertEquals(8, sp.budgetRemaining());
                sp.commit();
                assertRefusedAndUnchanged(arena, IllegalStateException.class, sp::commit);
                assertRefusedAndUnchanged(arena, IllegalStateException.class, sp::rollback);
                assertRefusedAndUnchanged(arena, StaleHandleException.class, () -> sp.allocate(8));
                assertRefusedAndUnchanged(arena, StaleHandleException.class, sp::savepoint);
                assertRefusedAndUnchanged(arena, StaleHandleException.class, sp::bytesUsed);
                assertEquals(Arena.UNLIMITED, tx.budgetRemaining(), "the savepoint's budget ended with it");
                assertEquals(new TxnDiff(16, 1, 2), tx.diff());
            }
            assertEquals(64, arena.bytesAllocated(), "the transaction rolled back");
            final long next = arena.allocate(8);
            assertEquals(64, Arena.offset(next), "the next allocation lands where it would have");
        }
    }

    /** Contract: 10,000 nested savepoints keep budgets, tokens and rollbacks exact. */
    @Test
    void tenThousandNestedSavepointsStayExact()
    {
        try (Arena arena = new Arena())
        {
            final Transaction[] txs = new Transaction[10_000];
            txs[0] = arena.transaction();
            txs[0].allocate(8);
            for (int i = 1; i < txs.length; i++)
            {
                txs[i] = txs[i - 1].savepoint();
                txs[i].allocate(8);
            }
            assertEquals(10_000, arena.transactionDepth());
            txs[0].setLimit(80_000 + 64);
            final BudgetExceededException ex =
                assertThrows(BudgetExceededException.class, () -> txs[9_999].allocate(128));
            assertEquals(1, ex.depth());
            assertEquals(80_064, ex.limit());
            assertEquals(80_000, ex.used());
            final long token = arena.beginTransaction();
            assertEquals(10_001, (int)(token & Arena.MAX_TOKEN_DEPTH));
            arena.allocate(64);
            assertEquals(0, txs[0].budgetRemaining());
            arena.endTransaction(token);
            assertEquals(64, txs[0].budgetRemaining());
            txs[5_000].close();
            assertEquals(5_000, arena.transactionDepth());
            assertEquals(40_000, arena.bytesAllocated());
            assertFalse(txs[5_001].isOpen());
            assertThrows(StaleHandleException.class, txs[9_999]::commit);
            for (int i = 4_999; i >= 1; i--)
            {
                txs[i].commit();
            }
            // every allocation made counts, undone ones too; the refused one does not
            assertEquals(new TxnDiff(40_000, 1, 10_001), txs[0].diff());
            txs[0].rollback();
            assertEquals(0, arena.bytesAllocated());
            assertEquals(0, arena.transactionDepth());
        }
    }

    /** Contract (Javadoc made explicit): token calls from a cleanup action are refused and change nothing. */
    @Test
    void tokenCallsFromACleanupActionAreRefused()
    {
        try (Arena arena = new Arena())
        {
            final long outer = arena.beginTransaction();
            final long inner = arena.beginTransaction();
            final List<Class<?>> refused = new ArrayList<>();
            arena.defer(() ->
            {
                refused.add(assertThrows(IllegalStateException.class, () -> arena.commitTransaction(inner)).getClass());
                refused.add(assertThrows(IllegalStateException.class, () -> arena.endTransaction(outer)).getClass());
                assertEquals(2, arena.transactionDepth());
            });
            arena.allocate(16);
            arena.endTransaction(inner);
            assertEquals(2, refused.size());
            assertEquals(1, arena.transactionDepth());
            arena.commitTransaction(outer);
            assertEquals(0, arena.transactionDepth());
            assertEquals(0, arena.bytesAllocated());
        }
    }

    @Test
    void aCopyWhoseCharAtRegistersACleanupActionSaysSo()
    {
        try (Arena arena = Arena.builder().build())
        {
            final long before = arena.position();
            final CharSequence defersOnRead = new CharSequence()
            {
                @Override
                public int length()
                {
                    return 4;
                }

                @Override
                public char charAt(final int index)
                {
                    if (index == 2)
                    {
                        arena.defer(() -> { });
                    }
                    return 'a';
                }

                @Override
                public CharSequence subSequence(final int start, final int end)
                {
                    throw new UnsupportedOperationException();
                }
            };
            final java.util.ConcurrentModificationException refused =
                assertThrows(java.util.ConcurrentModificationException.class, () -> arena.copyOfAscii(defersOnRead));
            assertTrue(refused.getMessage().contains("registered a cleanup action"), refused.getMessage());
            assertEquals(before, arena.position(), "the allocation is taken back");
        }
    }
}
