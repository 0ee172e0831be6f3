package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The arena's fast paths and the slow paths they fall back to: buffer(ref)'s one-test check, reset()'s
 * first-block path, the start cut kept outside the cut stack, the one-byte guard, the serial sentinel and the
 * budget owner derived on failure. Each case states what the slow path would have said, so a fast path that
 * lets through something it should not (or refuses something it should accept) fails here.
 */
class ArenaFastPathTest
{
    // ---------------------------------------------------------------------------------------------------------
    // buffer(ref)
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void bufferAcceptsEveryReferenceOfTheCurrentBlockUpToThePositionAndNothingOfAnotherBlock()
    {
        try (Arena arena = Arena.builder().initialBlockSize(1024).maxBlockSize(1024).build())
        {
            final long first = arena.allocate(1000, 8);
            final long second = arena.allocate(512, 8); // does not fit: block 1
            assertEquals(0, Arena.block(first));
            assertEquals(1, Arena.block(second));
            final UnsafeBuffer block0 = arena.buffer(first);
            final UnsafeBuffer block1 = arena.currentBuffer();
            assertNotSame(block0, block1);

            assertSame(block1, arena.buffer(second));
            final long atPosition = arena.copyOf(new byte[0]); // an empty reference: exactly the position
            assertEquals(Arena.offset(second) + 512, Arena.offset(atPosition));
            assertSame(block1, arena.buffer(atPosition));
            assertSame(block0, arena.buffer(first), "an older block in use");

            // References the fast test must not take for the current block: block 0 with an offset half of 2^31
            // or more lies less than 2^31 below the position of block 1, so only the offset test keeps them out;
            // the slow path refuses them too, as their offsets lie past the part of block 0 in use (1000 bytes).
            for (final long forged : new long[]{0x8000_0000L, 0xFFFF_FFF0L, 0xFFFF_FFFFL, (1L << 32) - 600, 1001L})
            {
                assertThrows(StaleHandleException.class, () -> arena.buffer(forged), "0x" + Long.toHexString(forged));
            }
            assertSame(block0, arena.buffer(1000L), "the end of block 0's part in use (an empty reference there)");
            // Beyond the position in the current block: rewound past, or never handed out.
            assertThrows(StaleHandleException.class, () -> arena.buffer((1L << 32) | 1000));
            // Blocks not in use, NULL, negative references.
            for (final long stale : new long[]{Arena.NULL, 2L << 32, (2L << 32) | 8, Long.MIN_VALUE, -2L,
                Long.MAX_VALUE, 0xFFFF_FFFF_0000_0000L})
            {
                assertThrows(StaleHandleException.class, () -> arena.buffer(stale), "0x" + Long.toHexString(stale));
            }
        }
    }

    @Test
    void bufferRefusesAReferenceIntoABlockRewoundPastEvenAtAnOffsetBelowThePosition()
    {
        try (Arena arena = Arena.builder().initialBlockSize(1024).maxBlockSize(1024).build())
        {
            arena.allocate(16, 8);
            final Checkpoint early = arena.checkpoint();
            arena.allocate(1000, 8);
            final long inBlock1 = arena.allocate(16, 8);
            assertEquals(1, Arena.block(inBlock1));
            arena.rewind(early); // back into block 0, at offset 16: inBlock1's offset (0) is below that
            assertThrows(StaleHandleException.class, () -> arena.buffer(inBlock1));
            final long again = arena.allocate(8, 8);
            assertEquals(0, Arena.block(again));
            assertSame(arena.currentBuffer(), arena.buffer(again));
        }
    }

    @Test
    void afterCloseNoReferencePassesTheFastTest()
    {
        final Arena arena = new Arena();
        final long ref = arena.allocate(64, 8);
        final long empty = arena.copyOf(new byte[0]);
        arena.close();
        for (final long any : new long[]{ref, empty, 0L, Arena.NULL, Long.MIN_VALUE, Long.MAX_VALUE, 0x7FFF_FFFFL})
        {
            final StaleHandleException ex = assertThrows(StaleHandleException.class, () -> arena.buffer(any));
            assertTrue(ex.getMessage().contains("closed"), ex.getMessage());
        }
        assertEquals(0, arena.bytesAllocated());
        assertEquals(0, arena.stats().bytesAllocated());
    }

    // ---------------------------------------------------------------------------------------------------------
    // reset() and the start cut
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void resetInTheFirstBlockFreesEverythingAndMakesHandlesAboveTheStartStale()
    {
        try (Arena arena = new Arena())
        {
            final Checkpoint atStart = arena.checkpoint();
            arena.allocate(100, 8);
            final Checkpoint above = arena.checkpoint();
            final ArenaView.OfLong view = vecOf(arena, 1, 2, 3).finish();
            arena.reset();
            assertEquals(0, arena.bytesAllocated());
            assertTrue(atStart.isValid(), "a checkpoint at the start is never stale");
            assertFalse(above.isValid());
            assertFalse(view.isValid());
            arena.allocate(4000, 8); // the position passes above's again: it stays stale
            assertThrows(StaleHandleException.class, () -> arena.rewind(above));
            assertThrows(StaleHandleException.class, () -> view.get(0));
            arena.rewind(atStart);
            assertEquals(0, arena.bytesAllocated());
        }
    }

    @Test
    void resetOfAnEmptyArenaChangesNothingAndStaysCheap()
    {
        try (Arena arena = new Arena())
        {
            final Checkpoint atStart = arena.checkpoint();
            final ArenaVec.OfLong empty = ArenaVec.ofLongs(arena);
            arena.reset();
            arena.reset();
            assertTrue(atStart.isValid());
            empty.push(7); // an empty vector owns no memory: nothing of it was freed
            assertEquals(7, empty.get(0));
            arena.rewind(atStart);
        }
    }

    @Test
    void resetKeepsStalenessExactAcrossRepeatedResetsAndRewindsToTheStart()
    {
        try (Arena arena = new Arena())
        {
            final List<Checkpoint> taken = new ArrayList<>();
            final List<Boolean> expectValid = new ArrayList<>();
            for (int round = 0; round < 5; round++)
            {
                taken.add(arena.checkpoint()); // at 0 (round 0) or right after a reset: at 0
                expectValid.add(true);
                arena.allocate(64 * (round + 1), 8);
                final Checkpoint mid = arena.checkpoint();
                arena.allocate(64, 8);
                arena.rewind(mid); // a cut above the start: kept on the stack
                assertTrue(mid.isValid());
                taken.add(mid);
                expectValid.add(false); // the reset (or rewind to the start) below frees it
                if (round % 2 == 0)
                {
                    arena.reset();
                }
                else
                {
                    arena.rewind(taken.get(0)); // a rewind to the start is the same cut as a reset
                }
                for (int i = 0; i < taken.size(); i++)
                {
                    assertEquals(expectValid.get(i), taken.get(i).isValid(), "round " + round + ", checkpoint " + i);
                }
            }
        }
    }

    @Test
    void resetLeavesALaterBlockForTheFirstAndRunsCleanups()
    {
        try (Arena arena = Arena.builder().initialBlockSize(1024).maxBlockSize(1024).build())
        {
            arena.allocate(1000, 8);
            arena.allocate(1000, 8); // block 1
            final List<String> ran = new ArrayList<>();
            arena.defer(() -> ran.add("cleanup"));
            arena.reset();
            assertEquals(List.of("cleanup"), ran);
            assertEquals(0, arena.bytesAllocated());
            assertEquals(0, Arena.block(arena.allocate(8, 8)), "back in block 0");
            assertEquals(2, arena.blockCount(), "block 1 kept warm");
            arena.reset(); // the first-block path again, the cleanup is gone
            assertEquals(List.of("cleanup"), ran);
        }
    }

    @Test
    void resetIsRefusedWithTheSameErrorsAsBefore()
    {
        final Arena arena = new Arena();
        arena.allocate(64, 8);
        final Checkpoint cp = arena.checkpoint();
        try (Transaction tx = arena.transaction())
        {
            final IllegalStateException open = assertThrows(IllegalStateException.class, arena::reset);
            assertTrue(open.getMessage().contains("transaction is open"), open.getMessage());
            assertEquals(64, tx.arena().bytesAllocated() - tx.bytesUsed(), "nothing changed");
        }
        final IllegalStateException[] inside = new IllegalStateException[1];
        arena.defer(() -> inside[0] = assertThrows(IllegalStateException.class, arena::reset));
        arena.reset();
        assertNotNull(inside[0]);
        assertTrue(inside[0].getMessage().contains("cleanup action"), inside[0].getMessage());
        arena.close();
        final IllegalStateException closed = assertThrows(IllegalStateException.class, arena::reset);
        assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
        assertThrows(IllegalStateException.class, arena::transaction);
        final IllegalStateException rewound = assertThrows(IllegalStateException.class, () -> arena.rewind(cp));
        assertTrue(rewound.getMessage().contains("closed"), rewound.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Transactions: serial sentinel, counting limit, budget owner
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void aZeroTokenIsRefusedWithAPlainIllegalStateAlsoWhileATransactionIsOpen()
    {
        try (Arena arena = new Arena())
        {
            try (Transaction tx = arena.transaction())
            {
                tx.allocate(64, 8);
                final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> arena.commitTransaction(0L));
                assertFalse(ex instanceof StaleHandleException, "not stale: it never was a transaction");
                assertTrue(tx.isOpen());
                assertEquals(1, arena.transactionDepth());
                arena.endTransaction(0L); // ignored
                assertTrue(tx.isOpen());
                tx.commit();
            }
            assertEquals(64, arena.bytesAllocated());
            // a token at depth 0 with a serial: never a transaction of this arena, and reported as stale as before
            assertThrows(StaleHandleException.class, () -> arena.commitTransaction(5L << 16));
        }
    }

    @Test
    void arenaAllocationsInsideATransactionAreCountedAndFreedAcrossBlocks()
    {
        try (Arena arena = Arena.builder().initialBlockSize(1024).maxBlockSize(1024).build())
        {
            arena.allocate(16, 8);
            try (Transaction tx = arena.transaction())
            {
                arena.allocate(8, 8);
                tx.allocate(8, 8);
                arena.allocate(1000, 8); // next block, through the slow path
                arena.allocate(8, 8);
                assertEquals(4, tx.diff().allocationCount());
                assertEquals(2, tx.diff().blocksTouched());
            }
            assertEquals(16, arena.bytesAllocated());
            final long after = arena.allocate(8, 8); // outside again: the arena's own fast path is back
            assertEquals(0, Arena.block(after));
            assertEquals(24, arena.bytesAllocated());
        }
    }

    @Test
    void theBudgetErrorNamesTheDepthWhoseOwnLimitApplies()
    {
        try (Arena arena = new Arena())
        {
            try (Transaction outer = arena.transaction())
            {
                outer.setLimit(1000);
                try (Transaction inherits = outer.savepoint())
                {
                    try (Transaction deeper = inherits.savepoint())
                    {
                        assertEquals(1, assertThrows(BudgetExceededException.class, () -> deeper.allocate(1008, 8)).depth(),
                            "two levels of inheritance");
                        deeper.setLimit(1000); // the same end as the parent's: still inherited
                        final BudgetExceededException same = assertThrows(BudgetExceededException.class,
                            () -> deeper.allocate(1008, 8));
                        assertEquals(1, same.depth());
                        assertEquals(1000, same.limit());
                        deeper.setLimit(100);
                        final BudgetExceededException own = assertThrows(BudgetExceededException.class,
                            () -> deeper.allocate(104, 8));
                        assertEquals(3, own.depth());
                        assertEquals(100, own.limit());
                        deeper.allocate(96, 8);
                        deeper.commit();
                    }
                    inherits.setLimit(200); // now depth 2 owns, and it has used 96 of it
                    final BudgetExceededException middle = assertThrows(BudgetExceededException.class,
                        () -> inherits.allocate(112, 8));
                    assertEquals(2, middle.depth());
                    assertEquals(96, middle.used());
                }
                final BudgetExceededException top = assertThrows(BudgetExceededException.class,
                    () -> outer.allocate(1008, 8));
                assertEquals(1, top.depth());
                assertEquals(0, top.used(), "the savepoint was rolled back");
            }
        }
    }

    @Test
    void budgetSlotsOfAnEarlierTransactionAtTheSameDepthNeverLeakIntoANewOne()
    {
        try (Arena arena = new Arena())
        {
            try (Transaction outer = arena.transaction())
            {
                try (Transaction limited = outer.savepoint())
                {
                    limited.setLimit(64);
                    assertEquals(64, limited.limit());
                    limited.allocate(64, 8);
                    limited.commit(); // depth 2's slots still hold 64 and its end
                }
                assertEquals(Arena.UNLIMITED, outer.budgetRemaining());
                try (Transaction fresh = outer.savepoint()) // depth 2 again: opened without writing a budget slot
                {
                    assertEquals(Arena.UNLIMITED, fresh.limit());
                    assertEquals(Arena.UNLIMITED, fresh.budgetRemaining());
                    fresh.allocate(4096, 8); // would exceed the old 64
                    try (Transaction deeper = fresh.savepoint())
                    {
                        outer.setLimit(5000); // reaches both open savepoints, which had no slots yet
                        assertEquals(Arena.UNLIMITED, fresh.limit());
                        assertEquals(5000 - 64 - 4096, deeper.budgetRemaining());
                        assertEquals(1, assertThrows(BudgetExceededException.class, () -> deeper.allocate(1000, 8)).depth());
                        fresh.setLimit(4096 + 100); // a middle depth: narrower than the outer now
                        assertEquals(100, deeper.budgetRemaining());
                        assertEquals(2, assertThrows(BudgetExceededException.class, () -> deeper.allocate(104, 8)).depth());
                        deeper.allocate(96, 8);
                        deeper.commit();
                    }
                    assertEquals(4, fresh.budgetRemaining());
                    // rolled back here: the outer's own budget applies again
                }
                assertEquals(5000 - 64, outer.budgetRemaining());
                try (Transaction again = outer.savepoint())
                {
                    assertEquals(Arena.UNLIMITED, again.limit(), "no own limit: the slot of 'fresh' is not read");
                    assertEquals(5000 - 64, again.budgetRemaining(), "inherits the outer budget");
                    again.allocate(4000, 8);
                    again.commit();
                }
                assertEquals(5000 - 64 - 4000, outer.budgetRemaining());
                outer.commit();
            }
            assertEquals(64 + 4000, arena.bytesAllocated());
            try (Transaction next = arena.transaction()) // depth 1 again, after a limited one
            {
                assertEquals(Arena.UNLIMITED, next.limit());
                assertEquals(Arena.UNLIMITED, next.budgetRemaining());
                next.allocate(100_000, 8);
            }
            arena.allocate(100_000, 8); // outside: no budget at all
        }
    }

    @Test
    void rollingBackAnOuterTransactionDropsTheBudgetsOfEverySavepointInside()
    {
        try (Arena arena = new Arena())
        {
            final Transaction outer = arena.transaction();
            final Transaction inner = outer.savepoint();
            final Transaction innermost = inner.savepoint();
            innermost.setLimit(8);
            assertThrows(BudgetExceededException.class, () -> arena.allocate(16, 8));
            outer.rollback(); // rolls back all three
            assertEquals(0, arena.transactionDepth());
            arena.allocate(4096, 8); // no budget left behind
            try (Transaction tx = arena.transaction())
            {
                try (Transaction sp = tx.savepoint())
                {
                    try (Transaction sp2 = sp.savepoint())
                    {
                        assertEquals(Arena.UNLIMITED, sp2.limit());
                        sp2.allocate(4096, 8);
                    }
                }
            }
        }
    }

    private static ArenaVec.OfLong vecOf(final Arena arena, final long... values)
    {
        final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
        for (final long value : values)
        {
            vec.push(value);
        }
        return vec;
    }
}
