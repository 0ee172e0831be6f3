package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every misuse throws a clear exception and leaves the arena exactly as it was: same stats, same position,
 * same clock (checkpoints compare all three), same transaction depth.
 */
class ArenaMisuseTest
{
    private Arena arena;

    @BeforeEach
    void open()
    {
        arena = Arena.withCapacity(1024);
        arena.allocate(40, 8);
    }

    @AfterEach
    void close()
    {
        arena.close();
    }

    private <T extends Throwable> T assertRefused(final Class<T> type, final Executable call, final String... mentions)
    {
        final ArenaStats stats = arena.stats();
        final Checkpoint position = arena.checkpoint();
        final int depth = arena.transactionDepth();
        final T ex = assertThrows(type, call);
        for (final String mention : mentions)
        {
            assertTrue(ex.getMessage().contains(mention), "'" + ex.getMessage() + "' should mention " + mention);
        }
        assertEquals(stats, arena.stats(), "stats unchanged");
        assertEquals(position, arena.checkpoint(), "position and clock unchanged");
        assertEquals(depth, arena.transactionDepth(), "transaction depth unchanged");
        return ex;
    }

    @Test
    void negativeAndZeroSizes()
    {
        assertRefused(IllegalArgumentException.class, () -> arena.allocate(-1, 8), "-1");
        assertRefused(IllegalArgumentException.class, () -> arena.allocate(0, 8), "0");
        assertRefused(IllegalArgumentException.class, () -> arena.allocate(Integer.MIN_VALUE), "-2147483648");
        assertRefused(IllegalArgumentException.class, () -> arena.tryAllocate(-5, 8), "-5");
        assertRefused(IllegalArgumentException.class, () -> arena.allocateZeroed(-5, 8), "-5");
        assertRefused(IllegalArgumentException.class, () -> arena.allocateCacheAligned(-3), "-3");
        assertRefused(IllegalArgumentException.class, () -> arena.allocateArray(-2, 8), "-2");
        assertRefused(IllegalArgumentException.class, () -> arena.allocateArray(Integer.MAX_VALUE, 8), "2147483647");
        assertRefused(IllegalArgumentException.class, () -> arena.place(new ArenaTest.Flyweight(), -1, 8,
            ArenaTest.Flyweight::wrap), "-1");
    }

    @Test
    void badAlignments()
    {
        for (final int alignment : new int[]{0, -8, 3, 12, Arena.MAX_ALIGNMENT * 2, Integer.MIN_VALUE})
        {
            assertRefused(IllegalArgumentException.class, () -> arena.allocate(8, alignment), Integer.toString(alignment));
            assertRefused(IllegalArgumentException.class, () -> arena.tryAllocate(8, alignment), Integer.toString(alignment));
        }
        assertRefused(IllegalArgumentException.class, () -> arena.allocateArray(4, 3), "3");
    }

    @Test
    void badRangesForCopies()
    {
        assertRefused(IndexOutOfBoundsException.class, () -> arena.copyOf(new byte[4], 2, 3));
        assertRefused(IndexOutOfBoundsException.class, () -> arena.copyOf(new byte[4], -1, 2));
        assertRefused(IndexOutOfBoundsException.class, () -> arena.tryCopyOf(new byte[4], 0, 5));
        assertRefused(IndexOutOfBoundsException.class, () -> arena.copyOf(new UnsafeBuffer(new byte[8]), 4, 8));
        assertRefused(NullPointerException.class, () -> arena.place(new ArenaTest.Flyweight(), 8, 8, null));
        assertRefused(NullPointerException.class, () -> arena.place(null, 8, 8, ArenaTest.Flyweight::wrap));
        assertRefused(NullPointerException.class, () -> arena.defer(null));
        assertRefused(NullPointerException.class, () -> arena.deferClose(null));
    }

    @Test
    void foreignCheckpoint()
    {
        try (Arena other = new Arena())
        {
            final Checkpoint foreign = other.checkpoint();
            assertRefused(IllegalArgumentException.class, () -> arena.rewind(foreign), "another arena");
        }
    }

    @Test
    void staleCheckpoint()
    {
        final Checkpoint cp = arena.checkpoint();
        arena.allocate(8, 8);
        final Checkpoint later = arena.checkpoint();
        arena.rewind(cp);
        arena.allocate(16, 8);
        assertRefused(StaleHandleException.class, () -> arena.rewind(later), "stale");
    }

    @Test
    void staleReferences()
    {
        final Checkpoint cp = arena.checkpoint();
        final long far = arena.allocate(2000, 8); // block 1
        arena.rewind(cp);
        assertRefused(StaleHandleException.class, () -> arena.buffer(far), "rewound past");
        assertRefused(StaleHandleException.class, () -> arena.buffer(Arena.NULL), "NULL");
    }

    @Test
    void committingTwice()
    {
        final Transaction tx = arena.transaction();
        tx.allocate(8, 8);
        tx.commit();
        assertRefused(IllegalStateException.class, tx::commit, "already committed");
        assertRefused(IllegalStateException.class, tx::rollback, "committed");
    }

    @Test
    void usingATransactionAfterItClosed()
    {
        final Transaction tx = arena.transaction();
        tx.rollback();
        assertRefused(StaleHandleException.class, tx::commit, "already closed");
        assertRefused(StaleHandleException.class, tx::rollback, "already closed");
        assertRefused(StaleHandleException.class, () -> tx.allocate(8, 8), "already closed");
        assertRefused(StaleHandleException.class, () -> tx.tryAllocate(8, 8), "already closed");
        assertRefused(StaleHandleException.class, () -> tx.copyOfUtf8("x"), "already closed");
        assertRefused(StaleHandleException.class, tx::savepoint, "already closed");
        assertRefused(StaleHandleException.class, () -> tx.setLimit(10), "already closed");
        assertRefused(StaleHandleException.class, tx::diff);
        assertRefused(StaleHandleException.class, tx::bytesUsed);
        assertRefused(StaleHandleException.class, tx::budgetRemaining);
        assertRefused(StaleHandleException.class, () -> tx.defer(() -> { }));
        // a new transaction at the same depth does not revive the old handle
        final Transaction next = arena.transaction();
        assertRefused(StaleHandleException.class, () -> tx.allocate(8, 8), "already closed");
        assertRefused(StaleHandleException.class, tx::commit);
        assertTrue(next.isOpen());
        next.close();
    }

    @Test
    void savepointOutlivingItsParent()
    {
        final Transaction outer = arena.transaction();
        final Transaction inner = outer.savepoint();
        inner.allocate(8, 8);
        assertRefused(IllegalStateException.class, outer::commit, "savepoint is open");
        assertRefused(IllegalStateException.class, () -> outer.allocate(8, 8), "savepoint is open");
        assertRefused(IllegalStateException.class, outer::savepoint, "savepoint is open");
        outer.rollback();
        assertRefused(StaleHandleException.class, () -> inner.allocate(8, 8));
        assertRefused(StaleHandleException.class, inner::commit);
        assertRefused(StaleHandleException.class, inner::savepoint);
    }

    @Test
    void closingAnOuterTransactionWhileAnInnerIsOpenIsAnOrderedRollback()
    {
        final long before = arena.bytesAllocated();
        final Transaction outer = arena.transaction();
        outer.allocate(8, 8);
        final Transaction inner = outer.savepoint();
        inner.allocate(8, 8);
        outer.close();
        assertEquals(before, arena.bytesAllocated());
        assertEquals(0, arena.transactionDepth());
        assertFalse(inner.isOpen());
    }

    @Test
    void rewindOrResetAcrossAnOpenTransaction()
    {
        final Checkpoint outside = arena.checkpoint();
        arena.defer(() -> { });
        final Transaction tx = arena.transaction();
        tx.allocate(8, 8);
        assertRefused(IllegalStateException.class, () -> arena.rewind(outside), "open transaction");
        assertRefused(IllegalStateException.class, arena::reset, "transaction is open");
        tx.close();
        arena.rewind(outside);
    }

    @Test
    void negativeBudget()
    {
        try (Transaction tx = arena.transaction())
        {
            assertRefused(IllegalArgumentException.class, () -> tx.setLimit(-1), "-1");
        }
    }

    @Test
    void arenaVecAfterFinishOrAfterTheArenaRewoundBelowIt()
    {
        final ArenaVec.OfLong finished = ArenaVec.ofLongs(arena);
        finished.push(1);
        finished.finish();
        assertRefused(StaleHandleException.class, () -> finished.push(2), "finished");
        assertRefused(StaleHandleException.class, finished::finish, "finished");
        assertRefused(StaleHandleException.class, finished::size, "finished");

        final Checkpoint cp = arena.checkpoint();
        final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
        vec.push(1);
        final ArenaVec.OfLong finishing = ArenaVec.ofLongs(arena, 2);
        finishing.push(7);
        final ArenaView.OfLong view = finishing.finish();
        arena.rewind(cp);
        assertRefused(StaleHandleException.class, () -> vec.push(2), "rewound");
        assertRefused(StaleHandleException.class, () -> vec.get(0), "rewound");
        assertRefused(StaleHandleException.class, view::size, "rewound");
    }

    @Test
    void badVectorArguments()
    {
        final ArenaVec.OfInt vec = ArenaVec.ofInts(arena);
        vec.push(1);
        assertRefused(IndexOutOfBoundsException.class, () -> vec.get(1));
        assertRefused(IndexOutOfBoundsException.class, () -> vec.get(-1));
        assertRefused(IndexOutOfBoundsException.class, () -> vec.set(5, 1));
        assertRefused(IndexOutOfBoundsException.class, () -> vec.truncate(2));
        assertRefused(IllegalArgumentException.class, () -> vec.reserve(-1), "-1");
        assertRefused(IllegalArgumentException.class, () -> vec.reserve(Integer.MAX_VALUE), "cannot hold");
        assertRefused(IllegalArgumentException.class, () -> ArenaVec.ofRecords(arena, 0), "record size");
        assertRefused(IllegalArgumentException.class, () -> ArenaVec.ofLongs(arena, -4), "-4");
        assertRefused(IndexOutOfBoundsException.class, () -> vec.addAll(new int[2], 1, 2));
        assertEquals(1, vec.size());
        vec.pop();
        assertRefused(java.util.NoSuchElementException.class, vec::pop);
    }

    @Test
    void badBuilderValues()
    {
        assertThrows(IllegalArgumentException.class, () -> Arena.builder().initialBlockSize(0));
        assertThrows(IllegalArgumentException.class, () -> Arena.builder().maxBlockSize(-1));
        assertThrows(IllegalArgumentException.class, () -> Arena.builder().maxReservedBytes(0));
        assertThrows(IllegalArgumentException.class, () -> Arena.withCapacity(-64));
        assertThrows(IllegalArgumentException.class,
            () -> Arena.builder().initialBlockSize(4096).maxReservedBytes(1024).build());
    }
}
