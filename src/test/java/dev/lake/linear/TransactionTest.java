package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class TransactionTest
{
    @Test
    void commitKeepsAndCloseWithoutCommitRollsBack()
    {
        try (Arena arena = new Arena())
        {
            try (Transaction tx = arena.transaction())
            {
                tx.allocate(64, 8);
                tx.commit();
                assertTrue(tx.isCommitted());
                assertFalse(tx.isOpen());
            }
            assertEquals(64, arena.bytesAllocated());
            try (Transaction tx = arena.transaction())
            {
                tx.allocate(64, 8);
                tx.copyOfUtf8("gone");
                assertEquals(1, arena.transactionDepth());
            }
            assertEquals(64, arena.bytesAllocated());
            assertEquals(0, arena.transactionDepth());
        }
    }

    @Test
    void explicitRollback()
    {
        try (Arena arena = new Arena())
        {
            final Transaction tx = arena.transaction();
            tx.allocate(128);
            tx.rollback();
            assertFalse(tx.isCommitted());
            assertFalse(tx.isOpen());
            assertEquals(0, arena.bytesAllocated());
            tx.close();
            assertEquals(0, arena.transactionDepth());
        }
    }

    @Test
    void innerRollbackKeepsOuterWorkAndOuterRollbackDiscardsCommittedInnerWork()
    {
        try (Arena arena = Arena.withCapacity(1024))
        {
            try (Transaction outer = arena.transaction())
            {
                outer.allocate(100, 4);
                try (Transaction inner = outer.savepoint())
                {
                    assertEquals(2, inner.depth());
                    assertEquals(2, arena.transactionDepth());
                    assertEquals(2, outer.arenaDepth());
                    inner.allocate(5000, 8); // a new block
                }
                assertEquals(100, arena.bytesAllocated(), "inner rolled back, outer intact");
                try (Transaction inner = outer.savepoint())
                {
                    inner.allocate(200, 4);
                    try (Transaction deepest = inner.savepoint())
                    {
                        deepest.allocate(300, 4);
                        assertEquals(3, deepest.depth());
                        deepest.commit();
                    }
                    inner.commit();
                    assertTrue(inner.isCommitted());
                }
                assertEquals(600, arena.bytesAllocated());
                outer.allocate(4, 4);
                // not committed
            }
            assertEquals(0, arena.bytesAllocated(), "outer rollback discarded committed inner work");
        }
    }

    @Test
    void transactionsNestToAnyDepth()
    {
        try (Arena arena = new Arena())
        {
            final List<Transaction> stack = new ArrayList<>();
            Transaction tx = arena.transaction();
            stack.add(tx);
            for (int d = 2; d <= 100; d++)
            {
                tx.allocate(8, 8);
                tx = tx.savepoint();
                stack.add(tx);
                assertEquals(d, tx.depth());
            }
            assertEquals(100, arena.transactionDepth());
            for (int i = stack.size() - 1; i >= 50; i--)
            {
                stack.get(i).commit();
            }
            assertEquals(49 * 8 + 50 * 8, arena.bytesAllocated());
            stack.get(49).rollback(); // depth 50 and its committed savepoints
            assertEquals(49 * 8, arena.bytesAllocated());
            stack.get(0).close();
            assertEquals(0, arena.bytesAllocated());
            assertEquals(0, arena.transactionDepth());
        }
    }

    @Test
    void arenaTransactionInsideATransactionIsASavepoint()
    {
        try (Arena arena = new Arena())
        {
            try (Transaction outer = arena.transaction())
            {
                outer.allocate(8, 8);
                try (Transaction nested = arena.transaction())
                {
                    assertEquals(2, nested.depth());
                    arena.allocate(8, 8); // direct arena allocation belongs to the innermost transaction
                }
                assertEquals(8, arena.bytesAllocated());
                outer.commit();
            }
        }
    }

    @Test
    void closingAnOuterTransactionWhileAnInnerIsOpenRollsBackTheInnerFirst()
    {
        try (Arena arena = new Arena())
        {
            final List<String> order = new ArrayList<>();
            final Transaction outer = arena.transaction();
            outer.allocate(8, 8);
            outer.defer(() -> order.add("outer"));
            final Transaction inner = outer.savepoint();
            inner.allocate(8, 8);
            inner.defer(() -> order.add("inner"));
            outer.close();
            assertEquals(List.of("inner", "outer"), order);
            assertFalse(inner.isOpen());
            assertFalse(outer.isOpen());
            assertEquals(0, arena.transactionDepth());
            assertEquals(0, arena.bytesAllocated());
            assertThrows(StaleHandleException.class, () -> inner.allocate(8, 8), "the savepoint outlived its parent");
            assertThrows(StaleHandleException.class, inner::commit);
            inner.close(); // no-op
        }
    }

    @Test
    void withTransactionCommitsOnReturnAndRollsBackOnThrow()
    {
        try (Arena arena = new Arena())
        {
            final long ref = arena.withTransaction(tx ->
            {
                final long r = tx.allocate(8, 8);
                tx.buffer(r).putLong(Arena.offset(r), 21);
                return r;
            });
            assertEquals(21, arena.buffer(ref).getLong(Arena.offset(ref)));
            assertEquals(8, arena.bytesAllocated());

            final IOException thrown = assertThrows(IOException.class, () -> arena.withTransaction(tx ->
            {
                tx.allocate(64, 8);
                throw new IOException("abort");
            }));
            assertEquals("abort", thrown.getMessage());
            assertEquals(8, arena.bytesAllocated());
            assertEquals(0, arena.transactionDepth());

            // the body may finish the transaction itself
            arena.withTransaction(tx ->
            {
                tx.allocate(8, 8);
                tx.rollback();
                return null;
            });
            arena.withTransaction(tx ->
            {
                tx.allocate(8, 8);
                tx.commit();
                return null;
            });
            assertEquals(16, arena.bytesAllocated());
        }
    }

    @Test
    void withTransactionLeavingASavepointOpenRollsEverythingBack()
    {
        try (Arena arena = new Arena())
        {
            assertThrows(IllegalStateException.class, () -> arena.withTransaction(tx ->
            {
                tx.allocate(8, 8);
                tx.savepoint().allocate(8, 8);
                return null;
            }));
            assertEquals(0, arena.bytesAllocated());
            assertEquals(0, arena.transactionDepth());
        }
    }

    @Test
    void infallibleVariantCommitsEvenWhenTheBodyThrows()
    {
        try (Arena arena = new Arena())
        {
            final int value = arena.withTransactionInfallible(tx ->
            {
                final long r = tx.allocate(4, 4);
                tx.buffer(r).putInt(Arena.offset(r), 7);
                return tx.buffer(r).getInt(Arena.offset(r)) * 6;
            });
            assertEquals(42, value);
            final IllegalStateException thrown = assertThrows(IllegalStateException.class, () ->
                arena.withTransactionInfallible(tx ->
                {
                    tx.allocate(60, 4);
                    tx.savepoint().allocate(1000, 8); // left open: rolled back before the commit
                    throw new IllegalStateException("boom");
                }));
            assertEquals("boom", thrown.getMessage());
            assertEquals(64, arena.bytesAllocated(), "committed through the throw, open savepoint rolled back");
            assertEquals(0, arena.transactionDepth());
        }
    }

    @Test
    void budgetCountsPaddingAndRefusesWithoutAllocating()
    {
        try (Arena arena = new Arena())
        {
            arena.allocate(1, 1);
            try (Transaction tx = arena.transaction())
            {
                assertEquals(Arena.UNLIMITED, tx.budgetRemaining());
                assertEquals(Arena.UNLIMITED, tx.limit());
                tx.setLimit(100);
                assertEquals(100, tx.limit());
                tx.allocate(8, 8); // 7 padding + 8
                assertEquals(15, tx.bytesUsed());
                assertEquals(85, tx.budgetRemaining());
                final long before = arena.bytesAllocated();
                final BudgetExceededException ex = assertThrows(BudgetExceededException.class, () -> tx.allocate(86, 1));
                assertEquals(100, ex.limit());
                assertEquals(15, ex.used());
                assertEquals(86, ex.requested());
                assertEquals(1, ex.depth());
                assertTrue(ex.getMessage().contains("limit 100") && ex.getMessage().contains("used 15") &&
                    ex.getMessage().contains("requested 86"), ex.getMessage());
                assertEquals(before, arena.bytesAllocated(), "nothing allocated");
                assertEquals(Arena.NULL, tx.tryAllocate(86, 1));
                assertThrows(BudgetExceededException.class, () -> arena.allocate(86, 1), "arena allocations count too");
                assertThrows(BudgetExceededException.class, () -> tx.allocate(80, 64), "padding counts");
                assertEquals(before, arena.bytesAllocated());
                tx.allocate(85, 1);
                assertEquals(0, tx.budgetRemaining());
                assertEquals(Arena.NULL, tx.tryAllocate(1, 1));
                tx.commit();
            }
            arena.allocate(1000, 8); // no budget outside
        }
    }

    @Test
    void budgetAppliesAcrossNewBlocksAndTheTryFormsOfCopiesAndPlacement()
    {
        try (Arena arena = Arena.withCapacity(1024))
        {
            try (Transaction tx = arena.transaction())
            {
                tx.setLimit(3000);
                tx.allocate(1000, 8);
                final int blocks = arena.blockCount();
                assertThrows(BudgetExceededException.class, () -> tx.allocate(2500, 8));
                assertEquals(blocks, arena.blockCount(), "no block created for a refused request");
                assertEquals(Arena.NULL, arena.tryCopyOf(new byte[2500], 0, 2500));
                assertNull(arena.tryPlace(new ArenaTest.Flyweight(), 2500, 8, ArenaTest.Flyweight::wrap));
                tx.allocate(1900, 8); // next block, within budget
                assertEquals(2, arena.blockCount());
                assertEquals(2900, tx.bytesUsed());
            }
        }
    }

    @Test
    void savepointsInheritTheParentBudgetAndCanOnlyNarrowIt()
    {
        try (Arena arena = new Arena())
        {
            try (Transaction outer = arena.transaction())
            {
                outer.setLimit(1000);
                outer.allocate(400, 8);
                try (Transaction inner = outer.savepoint())
                {
                    assertEquals(600, inner.budgetRemaining(), "inherited");
                    assertEquals(Arena.UNLIMITED, inner.limit());
                    final BudgetExceededException ex = assertThrows(BudgetExceededException.class, () -> inner.allocate(700, 8));
                    assertEquals(1, ex.depth(), "the outer limit binds");
                    inner.setLimit(5000);
                    assertEquals(600, inner.budgetRemaining(), "cannot widen past the parent");
                    inner.setLimit(100);
                    assertEquals(100, inner.budgetRemaining());
                    inner.allocate(64, 8);
                    assertEquals(2, assertThrows(BudgetExceededException.class, () -> inner.allocate(64, 8)).depth());
                    outer.setLimit(450);
                    assertEquals(0, inner.budgetRemaining(), "a narrower parent limit reaches open savepoints");
                    assertEquals(Arena.NULL, inner.tryAllocate(1, 1));
                    inner.commit();
                }
                assertEquals(0, outer.budgetRemaining());
                outer.setLimit(10_000);
                outer.allocate(1000, 8);
                outer.commit();
            }
        }
    }

    @Test
    void diffCountsArenaLevelAllocationsMadeInsideTheTransaction()
    {
        // Outside transactions the arena's fast path does not count; inside one every way of allocating must.
        try (Arena arena = Arena.withCapacity(1024))
        {
            arena.allocate(16, 8);
            try (Transaction outer = arena.transaction())
            {
                arena.allocate(8, 8);
                arena.tryAllocate(8, 8);
                arena.copyOf(new byte[] {1, 2, 3});
                outer.allocate(8);
                assertEquals(4, outer.diff().allocationCount());
                try (Transaction inner = outer.savepoint())
                {
                    arena.allocate(2000, 8); // a new block, through the arena
                    inner.tryAllocate(8, 8);
                    final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
                    vec.push(1); // one allocation, then growth in place
                    for (int i = 0; i < 100; i++)
                    {
                        vec.push(i);
                    }
                    assertEquals(3, inner.diff().allocationCount());
                    inner.commit();
                }
                assertEquals(7, outer.diff().allocationCount(), "committed inner work counts for the outer");
                assertEquals(outer.bytesUsed(), outer.diff().bytesAllocated());
                outer.commit();
            }
            arena.allocate(8, 8);
            try (Transaction tx = arena.transaction())
            {
                assertEquals(new TxnDiff(0, 0, 0), tx.diff(), "allocations before it do not count");
                arena.allocate(8, 8);
                assertEquals(1, tx.diff().allocationCount());
            }
        }
    }

    @Test
    void arenaLevelAllocationsInsideATransactionStillHonourItsBudget()
    {
        try (Arena arena = Arena.withCapacity(4096); Transaction tx = arena.transaction())
        {
            tx.setLimit(64);
            assertEquals(0, arena.allocate(40, 8) & 0xFFFF_FFFFL);
            final long before = arena.bytesAllocated();
            assertThrows(BudgetExceededException.class, () -> arena.allocate(32, 8));
            assertEquals(Arena.NULL, arena.tryAllocate(32, 8));
            assertEquals(Arena.NULL, tx.tryAllocate(32, 8));
            assertEquals(before, arena.bytesAllocated(), "nothing allocated by the refused calls");
            assertEquals(1, tx.diff().allocationCount(), "refused calls are not counted");
            arena.allocate(24, 8);
            assertEquals(0, tx.budgetRemaining());
            assertEquals(2, tx.diff().allocationCount());
        }
    }

    @Test
    void diffReportsBytesBlocksAndAllocations()
    {
        try (Arena arena = Arena.withCapacity(1024))
        {
            arena.allocate(1000, 8);
            try (Transaction tx = arena.transaction())
            {
                assertEquals(new TxnDiff(0, 0, 0), tx.diff());
                tx.allocate(8, 8);
                assertEquals(new TxnDiff(8, 1, 1), tx.diff());
                tx.allocate(1504, 8); // next block
                tx.allocate(8, 8);
                assertEquals(new TxnDiff(8 + 1504 + 8, 2, 3), tx.diff());
                tx.allocate(4000, 8); // another
                assertEquals(3, tx.diff().blocksTouched());
                assertEquals(4, tx.diff().allocationCount());
                assertEquals(tx.bytesUsed(), tx.diff().bytesAllocated());
            }
            try (Transaction tx = arena.transaction())
            {
                tx.allocate(100, 8); // does not fit block 0's tail: lands in block 1 only
                assertEquals(new TxnDiff(100, 1, 1), tx.diff());
            }
        }
    }

    @Test
    void transactionCheckpointRewindsInsideTheTransaction()
    {
        try (Arena arena = new Arena())
        {
            arena.allocate(8, 8);
            try (Transaction tx = arena.transaction())
            {
                tx.allocate(64, 8);
                arena.rewind(tx.checkpoint());
                assertEquals(8, arena.bytesAllocated());
                assertTrue(tx.isOpen());
                tx.commit();
                assertThrows(StaleHandleException.class, tx::checkpoint);
            }
        }
    }

    @Test
    void transactionHandleAllocatesNothingButItsMemory()
    {
        try (Arena arena = new Arena())
        {
            try (Transaction tx = arena.transaction())
            {
                final long zeroed = tx.allocateZeroed(32, 8);
                assertEquals(0, tx.buffer(zeroed).getLong(Arena.offset(zeroed)));
                final long aligned = tx.allocateCacheAligned(10);
                assertEquals(0, (tx.buffer(aligned).addressOffset() + Arena.offset(aligned)) % 64);
                tx.copyOf(new byte[]{1, 2});
                tx.copyOf(tx.buffer(zeroed), Arena.offset(zeroed), 8);
                assertNotNull(tx.place(new ArenaTest.Flyweight(), 8, 8, ArenaTest.Flyweight::wrap));
                assertSame(arena, tx.arena());
                assertTrue(tx.toString().contains("open"));
                tx.commit();
                assertTrue(tx.toString().contains("committed"));
            }
        }
    }
}
