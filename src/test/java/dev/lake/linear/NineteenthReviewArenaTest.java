package dev.lake.linear;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.ConcurrentModificationException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Nineteenth review of the growable arena (Arena, Transaction, savepoints, budgets, cleanup actions, ArenaVec).
 *
 * <p>Finding (fails on 951c7ec): the undo of a failed operation (a placement whose wrapper throws, a UTF-8 or ASCII
 * copy whose sequence changes or throws) is skipped inside a cleanup action ({@code Arena.undoAfter} requires
 * {@code !runningCleanups}), although the docs allow cleanup actions to allocate and promise the undo without
 * exception: the failed allocation stays, counted in bytesAllocated and charged to the budget of the depth being
 * rolled back, so the action's next allocation is refused.
 */
class NineteenthReviewArenaTest
{
    private static final FlyweightWrapper<Object> THROWING = (flyweight, buffer, offset) ->
    {
        throw new IllegalArgumentException("wrapper refuses");
    };

    /** A sequence whose UTF-8 length changes between the arena's two passes (measure, then encode). */
    private static CharSequence changing()
    {
        return new CharSequence()
        {
            private int lengthCalls;

            @Override
            public int length()
            {
                return ++lengthCalls == 1 ? 8 : 4;
            }

            @Override
            public char charAt(final int index)
            {
                return 'a';
            }

            @Override
            public CharSequence subSequence(final int start, final int end)
            {
                throw new UnsupportedOperationException();
            }

            @Override
            public String toString()
            {
                return "changing";
            }
        };
    }

    /**
     * docs/arena.md: "place/tryPlace undo the placement when the wrapper throws: the arena rewinds to where it was
     * before the call", and cleanup actions "may allocate (charged to the depth being rolled back ...)". Inside a
     * cleanup action the undo is skipped (Arena.undoAfter tests !runningCleanups), so the failed placement stays
     * allocated and charged to the budget: the action's next allocation, which fits once the placement is undone, is
     * refused. Control: the same sequence outside a cleanup action.
     */
    @Test
    void aPlacementWhoseWrapperThrowsInACleanupActionIsUndone()
    {
        // control, outside a cleanup action
        try (Arena arena = new Arena())
        {
            final Transaction tx = arena.transaction();
            tx.setLimit(64);
            final long before = arena.bytesAllocated();
            assertThrows(IllegalArgumentException.class, () -> arena.place(new Object(), 64, 8, THROWING));
            assertEquals(before, arena.bytesAllocated());
            arena.allocate(64, 8);
            tx.close();
        }
        try (Arena arena = new Arena())
        {
            final List<String> log = new ArrayList<>();
            final Transaction tx = arena.transaction();
            tx.setLimit(64);
            tx.defer(() ->
            {
                final long before = arena.bytesAllocated();
                try
                {
                    arena.place(new Object(), 64, 8, THROWING);
                    log.add("placed");
                }
                catch (final IllegalArgumentException expected)
                {
                    log.add("refused by the wrapper");
                }
                log.add("bytes after the failed placement: +" + (arena.bytesAllocated() - before));
                logAllocation64(arena, log);
            });
            tx.close();
            assertEquals(List.of("refused by the wrapper", "bytes after the failed placement: +0", "then allocated 64"),
                log);
        }
    }

    /**
     * Arena#copyOfUtf8: "ConcurrentModificationException if value changed while it was copied ...; the allocation is
     * taken back". Inside a cleanup action (where allocating is allowed) it is not taken back.
     */
    @Test
    void aUtf8CopyThatFailsInACleanupActionIsTakenBack()
    {
        // control, outside a cleanup action
        try (Arena arena = new Arena())
        {
            final long before = arena.bytesAllocated();
            assertThrows(ConcurrentModificationException.class, () -> arena.copyOfUtf8(changing()));
            assertEquals(before, arena.bytesAllocated());
        }
        try (Arena arena = new Arena())
        {
            final List<String> log = new ArrayList<>();
            arena.defer(() ->
            {
                final long before = arena.bytesAllocated();
                try
                {
                    arena.copyOfUtf8(changing());
                    log.add("copied");
                }
                catch (final ConcurrentModificationException expected)
                {
                    log.add("refused");
                }
                log.add("+" + (arena.bytesAllocated() - before));
            });
            arena.reset();
            assertEquals(List.of("refused", "+0"), log);
        }
    }
    /**
     * Arena#copyOfAscii: a sequence whose charAt throws (here a plain IndexOutOfBoundsException: the sequence shrank)
     * has "the allocation taken back". In a cleanup action run by a budgeted rollback it is kept, so the action's next
     * allocation, which fits the budget once the copy is taken back, is refused.
     */
    @Test
    void anAsciiCopyThatFailsInACleanupActionOfABudgetedRollbackIsTakenBack()
    {
        final CharSequence shrinking = new CharSequence()
        {
            @Override
            public int length()
            {
                return 60;
            }

            @Override
            public char charAt(final int index)
            {
                if (index == 10)
                {
                    throw new IndexOutOfBoundsException("shrank under the copy");
                }
                return 'x';
            }

            @Override
            public CharSequence subSequence(final int start, final int end)
            {
                throw new UnsupportedOperationException();
            }
        };
        // control, outside a cleanup action
        try (Arena arena = new Arena())
        {
            final Transaction tx = arena.transaction();
            tx.setLimit(64);
            assertThrows(IndexOutOfBoundsException.class, () -> arena.copyOfAscii(shrinking));
            arena.allocate(64, 8);
            tx.close();
        }
        try (Arena arena = new Arena())
        {
            final List<String> log = new ArrayList<>();
            final Transaction tx = arena.transaction();
            tx.setLimit(64);
            tx.defer(() ->
            {
                try
                {
                    arena.copyOfAscii(shrinking);
                    log.add("copied");
                }
                catch (final IndexOutOfBoundsException expected)
                {
                    log.add("refused");
                }
                logAllocation64(arena, log);
            });
            tx.rollback();
            assertEquals(List.of("refused", "then allocated 64"), log);
        }
    }

    /** The cleanup action's next allocation, as the tests log it: allocated, or the exception that refused it. */
    private static void logAllocation64(final Arena arena, final List<String> log)
    {
        try
        {
            arena.allocate(64, 8);
            log.add("then allocated 64");
        }
        catch (final RuntimeException ex)
        {
            log.add("then " + ex);
        }
    }
}
