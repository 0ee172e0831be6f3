package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import dev.lake.testing.TestSequence;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Misuse a review of Arena, Transaction, ArenaVec and ArenaView found unguarded, each test failing on the code
 * before its fix: zero and foreign tokens, forEach actions that rewind or close the arena, cleanups that throw
 * one preallocated exception or register more cleanups, refused closes, failed placements (also after a reset in
 * the wrapper), huge budgets, strings that change while they are copied, references from before a reset into a
 * block index that now holds a smaller block, tokens with corrupted depth bits.
 */
class ArenaMisuseRegressionTest
{
    // ---------------------------------------------------------------------------------------------------------
    // 1. Token 0 (a zero-initialised token variable) is accepted as "depth 0, serial 0": the arena itself.
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void endTransactionWithAZeroTokenNeitherRewindsTheArenaNorCorruptsTheDepth()
    {
        try (Arena arena = new Arena())
        {
            final long live = arena.allocate(64, 8);
            arena.buffer(live).putLong(Arena.offset(live), 42L);
            final long token = 0L; // "no transaction yet", e.g. begin threw before the assignment
            try
            {
                arena.endTransaction(token);
            }
            catch (final RuntimeException expectedOrNot)
            {
                // a clear exception would be fine; a half-done rollback is not
            }
            assertEquals(64, arena.bytesAllocated(), "a bogus token must not free the live allocation");
            assertEquals(0, arena.transactionDepth(), "the depth must not go negative");
            assertDoesNotThrow(() ->
            {
                try (Transaction tx = arena.transaction())
                {
                    tx.allocate(8);
                }
            }, "transactions must still open");
        }
    }

    @Test
    void commitTransactionWithAZeroTokenOutsideAnyTransactionIsRefusedCleanly()
    {
        try (Arena arena = new Arena())
        {
            arena.allocate(64, 8);
            final RuntimeException thrown = assertThrows(RuntimeException.class, () -> arena.commitTransaction(0L));
            assertTrue(thrown instanceof IllegalStateException, "expected a clear misuse error, got " + thrown);
            assertEquals(0, arena.transactionDepth(), "the depth must not go negative");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // 2. forEach checks once, then keeps reading/handing out memory the arena reclaimed mid-iteration.
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void viewForEachDoesNotReadAnotherAllocationAfterTheActionRewoundBelowIt()
    {
        try (Arena arena = new Arena())
        {
            final Checkpoint cp = arena.checkpoint();
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 4);
            vec.addAll(new long[]{1, 2, 3, 4});
            final ArenaView.OfLong view = vec.finish();
            final List<Long> seen = new ArrayList<>();
            final long[] other = {Arena.NULL};
            final Throwable thrown = catchThrowable(() -> view.forEach(v ->
            {
                seen.add(v);
                if (other[0] == Arena.NULL)
                {
                    arena.rewind(cp); // the view's memory is gone ...
                    other[0] = arena.copyOf(new long[]{99, 99, 99, 99}); // ... and belongs to this now
                }
            }));
            assertFalse(seen.contains(99L), "forEach read another allocation's memory: " + seen);
            assertTrue(thrown instanceof StaleHandleException, "expected StaleHandleException, got " + thrown);
        }
    }

    @Test
    void recordVecForEachDoesNotHandOutFreedMemoryThatTheActionThenCorrupts()
    {
        try (Arena arena = new Arena())
        {
            final Checkpoint cp = arena.checkpoint();
            final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, 8, 4);
            for (int i = 0; i < 4; i++)
            {
                vec.pushZeroed();
            }
            final long[] victim = {Arena.NULL};
            final Throwable thrown = catchThrowable(() -> vec.forEach((buffer, offset) ->
            {
                if (victim[0] == Arena.NULL)
                {
                    arena.reset(); // frees the vector; the action does not write this time
                    victim[0] = arena.copyOf(new long[]{1, 2, 3, 4});
                    return;
                }
                buffer.putLong(offset, -1L); // the library handed out this (buffer, offset) after the reset
            }));
            final UnsafeBuffer b = arena.buffer(victim[0]);
            final int at = Arena.offset(victim[0]);
            assertArrayEquals(new long[]{1, 2, 3, 4},
                new long[]{b.getLong(at), b.getLong(at + 8), b.getLong(at + 16), b.getLong(at + 24)},
                "forEach let the action overwrite an unrelated allocation");
            assertTrue(thrown instanceof StaleHandleException, "expected StaleHandleException, got " + thrown);
            assertNotNull(cp);
        }
    }

    @Test
    void longVecForEachStopsWhenTheActionClosesTheArena()
    {
        final Arena arena = new Arena();
        final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 4);
        vec.addAll(new long[]{1, 2, 3, 4});
        // With -Dagrona.disable.bounds.checks=true the next getLong reads address 0 + offset: a JVM crash.
        final Throwable thrown = catchThrowable(() -> vec.forEach(v -> arena.close()));
        assertTrue(thrown instanceof StaleHandleException, "expected StaleHandleException, got " + thrown);
    }

    // ---------------------------------------------------------------------------------------------------------
    // 3. withTransactionInfallible leaves its transaction open when rolling back a left-open savepoint fails.
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void infallibleTransactionIsNotLeftOpenWhenAnInnerCleanupThrows()
    {
        try (Arena arena = new Arena())
        {
            assertThrows(IllegalStateException.class, () -> arena.withTransactionInfallible(tx ->
            {
                tx.allocate(16);
                final Transaction inner = tx.savepoint();
                inner.defer(() ->
                {
                    throw new IllegalStateException("cleanup failed");
                });
                return 1; // returns normally, savepoint left open
            }));
            assertEquals(0, arena.transactionDepth(), "the infallible transaction must end (committed)");
            assertEquals(16, arena.bytesAllocated(), "its own allocation is committed");
            assertDoesNotThrow(arena::reset, "reset must not be blocked by a leaked transaction");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // 4. Two cleanups throwing the same (preallocated) exception: addSuppressed(self) escapes runCleanups.
    // ---------------------------------------------------------------------------------------------------------

    // A stackless, preallocated exception, the usual low-latency idiom.
    private static final RuntimeException PREALLOCATED = new RuntimeException("no stack", null, false, false)
    {
        private static final long serialVersionUID = 1L;
    };

    @Test
    void cleanupsThrowingTheSameExceptionInstanceStillAllRunAndTheResetCompletes()
    {
        try (Arena arena = new Arena())
        {
            final AtomicInteger ran = new AtomicInteger();
            arena.defer(ran::incrementAndGet); // runs last
            arena.allocate(100);
            arena.defer(() ->
            {
                throw PREALLOCATED;
            });
            arena.defer(() ->
            {
                throw PREALLOCATED;
            });
            final RuntimeException thrown = assertThrows(RuntimeException.class, arena::reset);
            assertSame(PREALLOCATED, thrown, "the first failure is rethrown");
            assertEquals(1, ran.get(), "every action runs even when some throw");
            assertEquals(0, arena.bytesAllocated(), "the reset completed");
        }
    }

    @Test
    void rollbackCompletesWhenTwoCleanupsThrowTheSameInstance()
    {
        try (Arena arena = new Arena())
        {
            final Transaction tx = arena.transaction();
            tx.allocate(100);
            tx.defer(() ->
            {
                throw PREALLOCATED;
            });
            tx.defer(() ->
            {
                throw PREALLOCATED;
            });
            final RuntimeException thrown = assertThrows(RuntimeException.class, tx::close);
            assertSame(PREALLOCATED, thrown);
            assertFalse(tx.isOpen());
            assertEquals(0, arena.transactionDepth(), "handle says closed, so the arena must agree");
            assertEquals(0, arena.bytesAllocated(), "the rollback completed");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // 5. setLimit: startUsed + limit overflows for large limits; the budget becomes negative (all refused).
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void aHugeButFiniteLimitDoesNotOverflowIntoRefusingEverything()
    {
        try (Arena arena = new Arena())
        {
            arena.allocate(64);
            try (Transaction tx = arena.transaction())
            {
                tx.setLimit(Long.MAX_VALUE - 1);
                assertTrue(tx.budgetRemaining() > 0, "remaining " + tx.budgetRemaining());
                assertDoesNotThrow(() -> tx.allocate(8));
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // 6. place(): a wrapper that throws leaves the bytes allocated (Lake undoes them; the brief: a failed call
    //    leaves state unchanged), and they count against the budget.
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void aFailedPlaceLeavesNothingAllocated()
    {
        try (Arena arena = new Arena())
        {
            final long before = arena.bytesAllocated();
            assertThrows(IndexOutOfBoundsException.class, () -> arena.place(new Object(), 64, 8, (f, b, o) ->
            {
                throw new IndexOutOfBoundsException("codec refused the buffer");
            }));
            assertEquals(before, arena.bytesAllocated(), "the failed placement must not keep its bytes");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // 7. Transaction serials are per arena: a token of arena A commits / rolls back arena B's transaction.
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void aTokenOfAnotherArenaDoesNotEndThisArenasTransaction()
    {
        try (Arena a = new Arena(); Arena b = new Arena())
        {
            final long tokenA = a.beginTransaction();
            final long tokenB = b.beginTransaction();
            b.allocate(128);
            try
            {
                b.endTransaction(tokenA); // wrong arena
            }
            catch (final RuntimeException fine)
            {
                // a clear error is acceptable
            }
            assertEquals(1, b.transactionDepth(), "b's transaction must still be open");
            assertEquals(128, b.bytesAllocated(), "b's work must not be rolled back by a's token");
            b.endTransaction(tokenB);
            a.endTransaction(tokenA);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // 8. Transaction.close() marks the handle rolled back before the arena agreed: when the rollback is refused
    //    (here from a cleanup action), the handle reports closed and close() is a no-op from then on, while the
    //    arena keeps the transaction open (reset refused, later allocations land in the orphaned transaction).
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void aRefusedCloseDoesNotMarkTheTransactionRolledBack()
    {
        try (Arena arena = new Arena())
        {
            final Transaction tx = arena.transaction();
            final Checkpoint inside = arena.checkpoint();
            tx.deferClose(tx); // "close the transaction if this part is undone"
            assertThrows(IllegalStateException.class, () -> arena.rewind(inside)); // close refused in the cleanup
            assertEquals(tx.isOpen(), arena.transactionDepth() == 1,
                "handle and arena disagree: tx.isOpen()=" + tx.isOpen() + ", depth " + arena.transactionDepth());
            tx.close();
            assertEquals(0, arena.transactionDepth(), "close() after the refusal must still end the transaction");
        }
    }

    @Test
    void aCleanupCannotRegisterAnotherCleanupSoAResetAlwaysEnds()
    {
        try (Arena arena = new Arena())
        {
            final AtomicInteger ran = new AtomicInteger();
            final Runnable[] again = new Runnable[1];
            again[0] = () ->
            {
                ran.incrementAndGet();
                arena.defer(again[0]); // would run in the same pass, forever
            };
            arena.defer(again[0]);
            arena.allocate(64, 8);
            final IllegalStateException refused = assertThrows(IllegalStateException.class, arena::reset);
            assertTrue(refused.getMessage().contains("from inside a cleanup action"), refused.getMessage());
            assertEquals(1, ran.get());
            assertEquals(0, arena.bytesAllocated(), "the reset completed");
            arena.defer(ran::incrementAndGet); // outside a cleanup, registration works again
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // 9. A failed place() undid its allocation when "the position is still at or above where it began". A wrapper
    //    that reset the arena and allocated again can swap kept blocks into other places, so that comparison
    //    mixed blocks of different sizes: the undo set a position past the end of a smaller block.
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void aFailedPlaceAfterAResetInItsWrapperNeverLeavesThePositionPastItsBlock()
    {
        try (Arena arena = Arena.builder().initialBlockSize(1024).build())
        {
            arena.allocate(1000);          // block 0 (1024 B)
            arena.allocate(1500);          // block 1 (2048 B)
            arena.allocate(1000);          // block 2 (4096 B)
            arena.allocate(2000);          // block 2, offset 3000
            assertEquals(2, Arena.block(arena.copyOf(new byte[0])));
            assertThrows(IllegalStateException.class, () -> arena.place(new Object(), 8, 8, (f, b, o) ->
            {
                arena.reset();             // the codec starts over ...
                arena.allocate(1000);      // block 0
                arena.allocate(3000);      // the kept 4096 B block swapped in as block 1
                arena.allocate(1500);      // the kept 2048 B block, now block 2
                arena.allocate(1000);      // a new block 3
                throw new IllegalStateException("codec failed");
            }));
            final long here = arena.copyOf(new byte[0]); // a reference at the position
            assertTrue(Arena.offset(here) <= arena.currentBuffer().capacity(), "position at offset " +
                Arena.offset(here) + " of block " + Arena.block(here) + " of " + arena.currentBuffer().capacity() + " B");
            assertEquals(1000 + 3000 + 1500 + 1000, arena.bytesAllocated(),
                "the wrapper reset below the placement: its allocations are left as it left them, nothing more");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // 10. copyOfUtf8 measured the sequence in one pass and encoded it in a second with no bound, and copyOfAscii
    //     let Agrona read length() again: a CharSequence that changed in between (a StringBuilder another thread
    //     appends to, a lazy sequence) was written past its allocation, and past its block into native memory that
    //     is not the arena's (a JVM crash with Agrona's bounds checks off).
    // ---------------------------------------------------------------------------------------------------------

    /** 'a' (1 UTF-8 byte) for the first {@code length} reads, then U+4E00 (3 bytes): measured short, encoded long. */
    private static CharSequence flipping(final int length)
    {
        return new TestSequence(length, 'x')
        {
            private int reads;

            @Override
            public char charAt(final int index)
            {
                return reads++ < length ? 'a' : '\u4e00';
            }
        };
    }

    @Test
    void copyOfUtf8OfASequenceThatChangesWhileCopiedWritesNothingPastItsAllocation()
    {
        try (Arena arena = Arena.withCapacity(4096))
        {
            final UnsafeBuffer block = arena.currentBuffer();
            block.setMemory(0, block.capacity(), (byte)0x5A); // free memory, marked
            final long kept = arena.copyOfUtf8("kept");
            final long used = arena.bytesAllocated();
            assertThrows(java.util.ConcurrentModificationException.class, () -> arena.copyOfUtf8(flipping(300)));
            assertThrows(java.util.ConcurrentModificationException.class, () -> arena.tryCopyOfUtf8(flipping(300)));
            assertEquals(used, arena.bytesAllocated(), "the allocation was taken back");
            // the refused copies wrote inside their own 304 B allocation (given back since), never past it
            for (int i = Arena.offset(kept) + 8 + 4 + 300; i < block.capacity(); i++)
            {
                assertEquals((byte)0x5A, block.getByte(i), "byte " + i + " past the allocation was written");
            }
            assertEquals("kept", block.getStringUtf8(Arena.offset(kept)));
            assertEquals("\u4e00b", arena.buffer(arena.copyOfUtf8("\u4e00b")).getStringUtf8(
                Arena.offset(arena.copyOfUtf8("\u4e00b"))), "a steady sequence still copies");
        }
    }

    @Test
    void copyOfUtf8OfASequenceThatGrowsPastTheBlockIsRefusedNotWritten()
    {
        try (Arena arena = Arena.withCapacity(64 * 1024))
        {
            final long used = arena.bytesAllocated();
            // 60,004 B measured, 180,004 B if encoded: past the 64 KiB block
            assertThrows(java.util.ConcurrentModificationException.class, () -> arena.copyOfUtf8(flipping(60_000)));
            assertEquals(used, arena.bytesAllocated(), "refused, nothing allocated");
        }
    }

    @Test
    void copyOfAsciiReadsTheLengthOnce()
    {
        try (Arena arena = Arena.withCapacity(4096))
        {
            final UnsafeBuffer block = arena.currentBuffer();
            block.setMemory(0, block.capacity(), (byte)0x5A);
            final CharSequence growing = new TestSequence(8, 'x')
            {
                private int lengthReads;

                @Override
                public int length()
                {
                    return lengthReads++ == 0 ? 8 : 200;
                }
            };
            final long ref = arena.copyOfAscii(growing);
            final int end = Arena.offset(ref) + 4 + 8;
            assertEquals(end, Arena.offset(arena.copyOf(new byte[0])), "8 chars allocated");
            assertEquals("xxxxxxxx", block.getStringAscii(Arena.offset(ref)));
            assertEquals((byte)0x5A, block.getByte(end), "nothing written past the allocation");

            final CharSequence shrinking = new TestSequence(8, 'x')
            {
                @Override
                public char charAt(final int index)
                {
                    if (index >= 4)
                    {
                        throw new IndexOutOfBoundsException(index);
                    }
                    return 'y';
                }
            };
            final long used = arena.bytesAllocated();
            assertThrows(IndexOutOfBoundsException.class, () -> arena.copyOfAscii(shrinking));
            assertEquals(used, arena.bytesAllocated(), "a copy cut short by its source is taken back");
        }
    }

    @Test
    void aCharAtThatResetsOrClosesTheArenaStopsTheCopyBeforeItWritesAgain()
    {
        try (Arena arena = Arena.withCapacity(4096))
        {
            arena.copyOf(new byte[64]); // the copy starts above 0, so the reset cuts below it
            final long[] theirs = {Arena.NULL};
            final CharSequence resetting = new TestSequence(64, 'x')
            {
                private int reads;

                @Override
                public char charAt(final int index)
                {
                    if (++reads == 64 + 10) // the encoding pass, ten chars in
                    {
                        arena.reset();
                        theirs[0] = arena.copyOf(new byte[512]); // someone else's memory now, where the copy wrote
                    }
                    return 'z';
                }
            };
            assertThrows(java.util.ConcurrentModificationException.class, () -> arena.copyOfUtf8(resetting));
            final UnsafeBuffer block = arena.buffer(theirs[0]);
            for (int i = 0; i < 512; i++)
            {
                assertEquals(0, block.getByte(Arena.offset(theirs[0]) + i), "the reset's new owner was overwritten");
            }
            assertEquals(512, arena.bytesAllocated(), "what the sequence did to the arena is left as it left it");
        }
        final Arena closing = Arena.withCapacity(4096);
        final CharSequence closer = new TestSequence(16, 'x')
        {
            @Override
            public char charAt(final int index)
            {
                if (index == 3)
                {
                    closing.close();
                }
                return 'q';
            }
        };
        assertThrows(java.util.ConcurrentModificationException.class, () -> closing.copyOfAscii(closer));
        assertTrue(closing.isClosed());
    }

    // ---------------------------------------------------------------------------------------------------------
    // 11. buffer(ref) trusted any reference into a block index in use. After a reset, allocateSlow swaps kept
    //     blocks into place, so an index may hold a smaller block than the one a reference from before the reset
    //     was cut from: the buffer handed out was too small for the offset, and a write through it (Agrona's checks
    //     off) landed past that block, in another block's live data or outside the arena (a JVM crash).
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void aReferenceFromBeforeAResetIsRefusedWhenItsBlockIndexNowHoldsASmallerBlock()
    {
        try (Arena arena = new Arena())
        {
            final int bigBlock = 16 << 20;
            arena.allocate(60 * 1024, 8);                       // block 0 (64 KiB)
            arena.allocate(100 * 1024, 8);                      // block 1: a new 128 KiB block
            final long big = arena.allocate(bigBlock, 8);       // block 2: a block of its own
            final long last = big + bigBlock - 8;               // its last 8 bytes, same block
            arena.buffer(last).putLong(Arena.offset(last), 1L); // a legitimate write
            arena.reset();
            arena.allocate(60 * 1024, 8);                       // block 0
            arena.allocate(1 << 20, 8);                         // only the big block fits: swapped to index 1
            arena.allocate(bigBlock - (1 << 20), 8);            // fills it
            final long small = arena.allocate(16, 8);           // next: the 128 KiB block, now at index 2
            assertEquals(2, Arena.block(last));
            assertEquals(2, Arena.block(small), "the arena is in block 2 again, a 128 KiB block now");
            final StaleHandleException refused = assertThrows(StaleHandleException.class, () -> arena.buffer(last));
            assertTrue(refused.getMessage().contains("rewound past"), refused.getMessage());

            arena.allocate(128 * 1024 - 16 - 64, 8);            // fill block 2, move on to block 3
            arena.allocate(4096, 8);
            assertThrows(StaleHandleException.class, () -> arena.buffer(last), "an older block, past its part in use");
            assertSame(arena.buffer(small), arena.buffer(small + 8), "inside an older block's part in use: its buffer");
            arena.buffer(small).putLong(Arena.offset(small), 7L);
            assertEquals(7L, arena.buffer(small).getLong(Arena.offset(small)));
        }
    }

    @Test
    void aReferenceAboveThePositionInTheCurrentBlockIsRefused()
    {
        try (Arena arena = Arena.withCapacity(4096))
        {
            final Checkpoint start = arena.checkpoint();
            arena.allocate(64, 8);
            final long ref = arena.allocate(64, 8); // starts at 64
            arena.rewind(start);
            assertThrows(StaleHandleException.class, () -> arena.buffer(ref), "rewound past, nothing allocated since");
            arena.allocate(64, 8);
            assertSame(arena.currentBuffer(), arena.buffer(ref), "its start is the position again: an empty reference there");
            final long again = arena.allocate(64, 8);
            assertEquals(ref, again, "the same memory handed out again: the primitive tier cannot tell them apart");
            assertSame(arena.currentBuffer(), arena.buffer(ref));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // 12. commitTransaction checked a token's serial but took its depth from the token's low bits: a corrupted
    //     depth committed nothing and set the arena's depth from it (or drove it to -1, half-changing the state).
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void aTokenWhoseDepthBitsDoNotMatchIsRefusedAndChangesNothing()
    {
        for (final int forgedDepth : new int[] {0, 2, 5})
        {
            try (Arena arena = new Arena())
            {
                final long token = arena.beginTransaction(); // depth 1
                final long forged = (token & ~(long)Arena.MAX_TOKEN_DEPTH) | forgedDepth;
                final IllegalStateException refused =
                    assertThrows(IllegalStateException.class, () -> arena.commitTransaction(forged));
                assertTrue(refused.getMessage().contains("corrupted token") || forgedDepth == 0, refused.getMessage());
                assertEquals(1, arena.transactionDepth(), "a refused commit changed the depth");
                if (forgedDepth != 0)
                {
                    // the token for the finally block: not taken for "already ended" and silently ignored
                    final IllegalStateException notEnded =
                        assertThrows(IllegalStateException.class, () -> arena.endTransaction(forged));
                    assertTrue(notEnded.getMessage().contains("corrupted token"), notEnded.getMessage());
                    assertEquals(1, arena.transactionDepth(), "a refused end changed the depth");
                }
                arena.commitTransaction(token);
                assertEquals(0, arena.transactionDepth(), "the real token still commits");
            }
        }
    }

    private static Throwable catchThrowable(final Runnable body)
    {
        try
        {
            body.run();
            return null;
        }
        catch (final Throwable t)
        {
            return t;
        }
    }
}
