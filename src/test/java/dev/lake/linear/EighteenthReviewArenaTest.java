package dev.lake.linear;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Eighteenth review of the growable arena (Arena, Transaction, ArenaVec, ArenaView, cleanups, budgets).
 *
 * <p>Findings (fail on f78b2a5, JDK 17 and JDK 25):
 * <ul>
 * <li>{@link #closingAnOuterTransactionRunsItsCleanupsAfterTheSavepointIsRolledBack},
 * {@link #rollingBackAnOuterTransactionRunsItsCleanupsUnderItsOwnBudget},
 * {@link #endingAnOuterTokenRunsItsCleanupsUnderItsOwnBudget}: ending an outer transaction with a savepoint still
 * open runs the outer transaction's cleanup actions while the savepoint is still the innermost open transaction
 * (Arena.rollback runs every cleanup newer than the outer start in one pass before it settles any depth), so a
 * cleanup that allocates (the docs allow it) is charged to the savepoint and refused by the savepoint's budget:
 * {@code outer.close()} / {@code rollback()} / {@code endTransaction(token)} throw BudgetExceededException naming
 * depth 2, where closing the savepoint first and then the outer transaction (which the docs say is the same) works.</li>
 * <li>{@link #anArenaLevelCleanupRunByCloseIsNotChargedToATransactionOpenedAfterIt}: the same root cause in
 * {@code close()}: it runs every cleanup before it ends the open transactions, so an arena-level cleanup registered
 * before any transaction is refused by the budget of a transaction opened after it and {@code close()} throws
 * BudgetExceededException (the same cleanup run by {@code reset()}, or by {@code close()} after the transaction
 * ended, works).</li>
 * </ul>
 */
class EighteenthReviewArenaTest
{
    /** A cleanup that records the transaction depth it ran at, then allocates {@code bytes} bytes, as the docs allow. */
    private static Runnable allocatingCleanup(final Arena arena, final String name, final int bytes,
        final List<String> log)
    {
        return () ->
        {
            log.add(name + "@" + arena.transactionDepth());
            arena.allocate(bytes, 8);
        };
    }

    private static void assertRunsCleanly(final Runnable end, final List<String> log, final String what)
    {
        try
        {
            end.run();
        }
        catch (final RuntimeException ex)
        {
            fail(what + " threw " + ex + " (cleanups ran as " + log + ")", ex);
        }
    }

    /**
     * arena.md: "Closing or rolling back an outer transaction while a savepoint is open inside rolls the savepoint back
     * first, then the outer one (cleanup actions run innermost first)"; cleanups "may allocate". So closing the outer
     * transaction must behave as closing the savepoint and then the outer one: the outer transaction's cleanup runs
     * under the outer transaction's budget. Arena.rollback(depth) runs every cleanup newer than the outer start
     * (Arena.rewindTo -> runCleanups) while the savepoint is still the innermost open transaction, and only then settles
     * the depth, so the outer cleanup's allocation is charged to the savepoint and refused by its budget.
     */
    @Test
    void closingAnOuterTransactionRunsItsCleanupsAfterTheSavepointIsRolledBack()
    {
        // control: the savepoint closed first, then the outer one
        final List<String> expected = new ArrayList<>();
        try (Arena arena = new Arena())
        {
            final Transaction outer = arena.transaction();
            outer.defer(allocatingCleanup(arena, "outer", 64, expected));
            final Transaction inner = outer.savepoint();
            inner.setLimit(0);
            inner.close();
            assertRunsCleanly(outer::close, expected, "closing the outer transaction after its savepoint");
            assertEquals(1, expected.size());
        }
        // the same with the savepoint left open: the docs say it is rolled back first, then the outer one
        try (Arena arena = new Arena())
        {
            final List<String> log = new ArrayList<>();
            final Transaction outer = arena.transaction();
            outer.defer(allocatingCleanup(arena, "outer", 64, log));
            final Transaction inner = outer.savepoint();
            inner.setLimit(0);
            assertRunsCleanly(outer::close, log, "closing the outer transaction with its savepoint open");
            assertEquals(expected, log, "the outer cleanup did not run as it does once the savepoint is closed");
            assertEquals(0, arena.transactionDepth());
        }
    }

    /** The same through rollback(): the outer budget has room, the savepoint's (spent) is the one charged. */
    @Test
    void rollingBackAnOuterTransactionRunsItsCleanupsUnderItsOwnBudget()
    {
        try (Arena arena = new Arena())
        {
            final List<String> log = new ArrayList<>();
            final Transaction outer = arena.transaction();
            outer.setLimit(1024);
            outer.defer(allocatingCleanup(arena, "outer", 64, log));
            final Transaction inner = outer.savepoint();
            inner.setLimit(16);
            inner.allocate(16, 8); // the savepoint's budget is spent; the outer one has 1,008 bytes left
            assertRunsCleanly(outer::rollback, log, "rolling back the outer transaction with its savepoint open");
            assertEquals(1, log.size(), log.toString());
            assertEquals(0, arena.transactionDepth());
        }
    }

    /** The same through the primitive tier: endTransaction(token) of the outer transaction, "as Transaction#close()". */
    @Test
    void endingAnOuterTokenRunsItsCleanupsUnderItsOwnBudget()
    {
        try (Arena arena = new Arena())
        {
            final List<String> log = new ArrayList<>();
            final long outer = arena.beginTransaction();
            arena.defer(allocatingCleanup(arena, "outer", 64, log)); // belongs to the innermost: the outer token's
            final Transaction inner = arena.transaction();
            inner.setLimit(0);
            assertRunsCleanly(() -> arena.endTransaction(outer), log, "ending the outer token with a savepoint open");
            assertEquals(1, log.size(), log.toString());
            assertEquals(0, arena.transactionDepth());
        }
    }

    /**
     * A cleanup registered on the arena outside any transaction belongs to no transaction; a budget caps "what the
     * transaction allocates". close() runs every cleanup (Arena.close -> runCleanups(-1)) before it ends the open
     * transactions, so an arena-level cleanup that allocates is refused by the budget of a transaction opened after it
     * was registered, and close() throws BudgetExceededException, where the same cleanup run by reset(), or by close()
     * once the transaction is closed, succeeds.
     */
    @Test
    void anArenaLevelCleanupRunByCloseIsNotChargedToATransactionOpenedAfterIt()
    {
        final List<String> log = new ArrayList<>();
        final Arena arena = new Arena();
        arena.defer(allocatingCleanup(arena, "arena", 64, log));
        final Transaction tx = arena.transaction();
        tx.setLimit(0);
        try
        {
            assertRunsCleanly(arena::close, log, "closing the arena");
            assertEquals(1, log.size(), log.toString());
        }
        finally
        {
            arena.close();
        }
    }
}
