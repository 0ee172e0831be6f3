package dev.lake.linear;

import dev.lake.testing.StackLadder;
import dev.lake.testing.StackLadder.Scenario;
import org.junit.jupiter.api.Test;

/**
 * Fifteenth review of the growable arena: calls cut short by a {@code StackOverflowError} (the "OutOfMemoryError-like
 * failure" the earlier rounds probed with a full heap only). The tests marked "Finding" failed on the code before
 * their fix; those marked "Pinned guard" passed before it too.
 *
 * <p>As in {@code FourteenthReviewLinearTest} (which probed {@code Lake}), the cases run in a child JVM in interpreted
 * mode ({@code -Xint}), where every call is a point at which the error can be thrown: a "ladder" (recurse until the
 * stack overflows, then try the operation once in each frame on the way back up, each frame having a little more stack
 * than the one below) cuts the operation short at each of its calls in turn. Compiled code inlines most of these small
 * calls; they stay open wherever the code runs interpreted (before the JIT compiles it, after a deoptimisation). Each
 * attempt works on its own arena, checked after the ladder at a normal stack depth, after the retry a program that
 * caught the error would make. The invariant: state a call changes before one of its calls is consistent whatever that
 * call throws.
 */
class FifteenthReviewArenaTest
{
    // ------------------------------------------------------------------------------------------------------------
    // The child JVM
    // ------------------------------------------------------------------------------------------------------------

    private static void assertClean(final String scenario) throws Exception
    {
        StackLadder.assertClean(StackProbe.class, scenario);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Tests
    // ------------------------------------------------------------------------------------------------------------

    /**
     * Pinned guard (passes before the fix too: the interpreter reaches no window after the open): a {@code transaction()}
     * cut short leaves no transaction open that nobody holds (the arena could never reset again).
     */
    @Test
    void aTransactionCutShortLeavesNoTransactionOpenThatNobodyHolds() throws Exception
    {
        assertClean("transaction");
    }

    /**
     * Pinned guard (passes before the fix too), the same for {@code savepoint()}.
     */
    @Test
    void aSavepointCutShortLeavesNoSavepointOpenThatNobodyHolds() throws Exception
    {
        assertClean("savepoint");
    }

    /**
     * Pinned guard (passes before the fix too: without a budget, entering the block made no call after its first
     * store that the interpreter reaches): a rewind to an earlier block cut short never leaves that block under a later
     * block's limit.
     */
    @Test
    void aRewindToAnEarlierBlockCutShortNeverHandsOutMemoryPastThatBlock() throws Exception
    {
        assertClean("rewind");
    }

    /**
     * Finding (JDK 17 and 25). {@code enterBlock} stored the new block and the position, then computed the limit through
     * calls ({@code updateFastLimit}, and {@code Math.max} where a budget ends in the block): cut short there, the
     * position was in block 0 under block 2's limit, which every position in block 0 lies below, so the fast path took
     * any request: an 8,000-byte allocation at offset 1,000 of the 4,096-byte block, past the budget's 1,000 bytes left
     * (raw writes there, as {@code allocateZeroed}, {@code copyOf} and {@code ArenaVec} do, corrupt the native heap).
     * The retried rewind found the position at its target and changed nothing, so it stayed so. Fixed: every value is
     * computed before the first store, and nothing is called after it.
     */
    @Test
    void aRewindUnderABudgetCutShortNeverHandsOutMemoryPastTheBudgetOrTheBlock() throws Exception
    {
        assertClean("rewind-budget");
    }

    /**
     * Finding (JDK 17 and 25). {@code close()} marked the arena closed, then closed its blocks one by one, and only then
     * closed its position and limits: cut short in a block's close, {@code isClosed()} was true while the fast path
     * still handed out memory in the current block (which the same close was freeing: {@code allocateZeroed} or a
     * vector would then write freed memory), and the retried {@code close()} returned at once, so the blocks were
     * never freed while the arena lived. Fixed: every store that makes the arena refuse comes first, with no call
     * between them; the blocks are freed after, newest first, each forgotten once freed, and a retried close frees
     * the rest.
     */
    @Test
    void aCloseCutShortEitherLeavesTheArenaOpenOrRefusesEveryAllocation() throws Exception
    {
        assertClean("close");
    }

    /**
     * Pinned guard (passes before the fix too): the same for a reset from the third block.
     */
    @Test
    void aResetCutShortNeverHandsOutMemoryPastTheFirstBlock() throws Exception
    {
        assertClean("reset");
    }

    /**
     * Pinned guard (passes before the fix too): moving from a full own block to a smaller new one.
     */
    @Test
    void aMoveToASmallerBlockCutShortNeverHandsOutMemoryPastIt() throws Exception
    {
        assertClean("smaller-block");
    }

    /**
     * Pinned guard (passes before the fix too): a budgeted top-level transaction rolled back.
     */
    @Test
    void aBudgetedRollbackCutShortLeavesNoBudgetBehind() throws Exception
    {
        assertClean("rollback-budget");
    }

    /**
     * Pinned guard (passes before the fix too): the same with bytes to discard (the rewind's own calls go deeper).
     */
    @Test
    void aSavepointRollbackCutShortLeavesTheOuterTransactionUsable() throws Exception
    {
        assertClean("rollback-savepoint");
    }

    /**
     * Finding (JDK 17 and 25). {@code rollback} lowered the depth, then restored the enclosing budget through calls
     * ({@code restoreBudget}, {@code updateFastLimit}, {@code Math.max}): cut short there, the rolled-back savepoint's
     * 256-byte limit stayed in force over the outer transaction, which refused 4,096 bytes of its 9,936 left with a
     * {@code BudgetExceededException} naming the outer limit; no retry could lift it (the savepoint is no longer open, so
     * {@code close()} does nothing). Fixed: read and computed before the first store, no call after it.
     */
    @Test
    void anEmptyBudgetedSavepointRollbackCutShortLeavesTheOuterBudgetInForce() throws Exception
    {
        assertClean("rollback-empty-savepoint");
    }

    /**
     * Finding on JDK 25 (JDK 17's interpreter frames reach no window there). {@code commit} stored the parent's depth,
     * then read the parent's serial through a call ({@code at}): cut short there, the depth was the parent's and the
     * serial the committed savepoint's, so the retried commit was refused as "a corrupted token" and the outer
     * transaction could neither allocate nor commit ("a savepoint is open inside it"). Fixed: read before the first
     * store.
     */
    @Test
    void aSavepointCommitCutShortLeavesTheOuterTransactionUsable() throws Exception
    {
        assertClean("commit");
    }

    /**
     * Finding on JDK 25, as above, with a budget of the savepoint's own (whose limit the commit also dropped through
     * calls after its stores).
     */
    @Test
    void aBudgetedSavepointCommitCutShortLeavesNoBudgetBehind() throws Exception
    {
        assertClean("commit-budget");
    }

    // ------------------------------------------------------------------------------------------------------------
    // The probe
    // ------------------------------------------------------------------------------------------------------------

    /** Runs one scenario's ladders and prints {@code probe NAME violations N cut C attempts A}. */
    static final class StackProbe
    {
        private static final int SLOTS = StackLadder.SLOTS;
        private static final int VARIANTS = 24;

        public static void main(final String[] args)
        {
            StackLadder.probe(args[0], StackProbe::scenario, VARIANTS);
        }

        private static Scenario scenario(final String name)
        {
            return switch (name)
            {
                case "transaction" -> new OpenTransaction();
                case "savepoint" -> new OpenSavepoint();
                case "rewind" -> new RewindDown();
                case "reset" -> new ResetDown();
                case "close" -> new CloseArena();
                case "rewind-budget" -> new RewindUnderABudget();
                case "smaller-block" -> new SmallerBlock();
                case "rollback-budget" -> new RollbackBudget();
                case "rollback-savepoint" -> new RollbackSavepoint(false);
                case "rollback-empty-savepoint" -> new RollbackSavepoint(true);
                case "commit" -> new CommitSavepoint(false);
                case "commit-budget" -> new CommitSavepoint(true);
                default -> throw new IllegalArgumentException(name);
            };
        }

        /**
         * Allocates on until the arena has moved past its current block: every reference must lie inside the block
         * whose buffer {@link Arena#buffer(long)} gives for it (a limit left from another block hands out memory past
         * the end of the block: raw writes there, as allocateZeroed, copyOf and ArenaVec do, corrupt the native heap).
         */
        static String bounds(final Arena arena)
        {
            for (int i = 0; i < 64; i++)
            {
                final long ref = arena.tryAllocate(1000, 8);
                if (ref == Arena.NULL)
                {
                    return "a 1000-byte allocation was refused (" + arena + ")";
                }
                final int capacity = arena.buffer(ref).capacity();
                if (Arena.offset(ref) + 1000 > capacity)
                {
                    return "an allocation at offset " + Arena.offset(ref) + " of block " + Arena.block(ref) +
                        " ends past the block's " + capacity + " bytes";
                }
            }
            return null;
        }

        abstract static class Arenas implements Scenario
        {
            final Arena[] arenas = new Arena[SLOTS];

            @Override
            public void closeAll()
            {
                for (final Arena arena : arenas)
                {
                    if (arena != null)
                    {
                        arena.close();
                    }
                }
            }
        }

        /** A top-level transaction: cut short, it must leave none open that nobody holds. */
        static final class OpenTransaction extends Arenas
        {
            final Transaction[] opened = new Transaction[SLOTS];

            @Override
            public void build(final int slot)
            {
                arenas[slot] = Arena.withCapacity(4096);
                arenas[slot].allocate(64);
            }

            @Override
            public void attempt(final int slot)
            {
                opened[slot] = arenas[slot].transaction();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                if (opened[slot] != null)
                {
                    opened[slot].close();
                }
                final int depth = arenas[slot].transactionDepth();
                try
                {
                    arenas[slot].reset();
                }
                catch (final RuntimeException refused)
                {
                    return depth + " transactions open where 0 were, and the arena cannot reset: " + refused;
                }
                return depth == 0 ? null : depth + " transactions open where 0 were";
            }
        }

        /** A savepoint in an open transaction: cut short, it must leave the outer one able to commit. */
        static final class OpenSavepoint extends Arenas
        {
            final Transaction[] outer = new Transaction[SLOTS];
            final Transaction[] inner = new Transaction[SLOTS];

            @Override
            public void build(final int slot)
            {
                arenas[slot] = Arena.withCapacity(4096);
                outer[slot] = arenas[slot].transaction();
                outer[slot].allocate(64);
            }

            @Override
            public void attempt(final int slot)
            {
                inner[slot] = outer[slot].savepoint();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                if (inner[slot] != null)
                {
                    inner[slot].close();
                }
                final int depth = arenas[slot].transactionDepth();
                try
                {
                    outer[slot].allocate(64);
                    outer[slot].commit();
                }
                catch (final RuntimeException refused)
                {
                    return depth + " transactions open where 1 was, and the outer one cannot commit: " + refused;
                }
                return depth == 1 ? null : depth + " transactions open where 1 was";
            }
        }

        /** Three blocks, then a rewind to a checkpoint in the first. */
        static final class RewindDown extends Arenas
        {
            final Checkpoint[] checkpoints = new Checkpoint[SLOTS];

            @Override
            public void build(final int slot)
            {
                final Arena arena = Arena.withCapacity(4096);
                arenas[slot] = arena;
                arena.allocate(1000);
                checkpoints[slot] = arena.checkpoint();
                arena.allocate(4000); // block 1 (8 KiB)
                arena.allocate(8000); // block 2 (16 KiB)
            }

            @Override
            public void attempt(final int slot)
            {
                arenas[slot].rewind(checkpoints[slot]);
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                arenas[slot].rewind(checkpoints[slot]); // the retry
                if (arenas[slot].stats().bytesAllocated() != 1000)
                {
                    return "after the rewind " + arenas[slot].stats().bytesAllocated() + " bytes allocated, not 1000";
                }
                return bounds(arenas[slot]);
            }
        }

        /**
         * Inside a transaction: three blocks, a checkpoint in the first, the budget lowered below what is used (so that
         * it ends inside the first block), then the rewind to the checkpoint: entering the first block computes its
         * budget-limited room.
         */
        static final class RewindUnderABudget extends Arenas
        {
            final Transaction[] txs = new Transaction[SLOTS];
            final Checkpoint[] checkpoints = new Checkpoint[SLOTS];

            @Override
            public void build(final int slot)
            {
                final Arena arena = Arena.withCapacity(4096);
                arenas[slot] = arena;
                final Transaction tx = arena.transaction();
                txs[slot] = tx;
                tx.allocate(1000);
                checkpoints[slot] = arena.checkpoint();
                tx.allocate(4000); // block 1 (8 KiB)
                tx.allocate(8000); // block 2 (16 KiB)
                tx.setLimit(2000); // ends 1,000 bytes past the checkpoint, in block 0
            }

            @Override
            public void attempt(final int slot)
            {
                arenas[slot].rewind(checkpoints[slot]);
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Arena arena = arenas[slot];
                arena.rewind(checkpoints[slot]); // the retry
                final Transaction tx = txs[slot];
                if (tx.budgetRemaining() != 1000)
                {
                    return "after the rewind the budget has " + tx.budgetRemaining() + " bytes left, not 1000";
                }
                final long ref = tx.tryAllocate(8000, 8);
                if (ref != Arena.NULL)
                {
                    return "an 8000-byte allocation passed the 1000 bytes left of the budget, at offset " +
                        Arena.offset(ref) + " of block " + Arena.block(ref) + " (" +
                        arena.buffer(ref).capacity() + " bytes)";
                }
                if (tx.tryAllocate(1000, 8) == Arena.NULL)
                {
                    return "the 1000 bytes left of the budget were refused";
                }
                return null;
            }
        }

        /** Three blocks, then close: cut short, the arena is either open or refuses every allocation. */
        static final class CloseArena extends Arenas
        {
            @Override
            public void build(final int slot)
            {
                final Arena arena = Arena.withCapacity(4096);
                arenas[slot] = arena;
                arena.allocate(1000);
                arena.allocate(4000);
                arena.allocate(8000);
            }

            @Override
            public void attempt(final int slot)
            {
                arenas[slot].close();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Arena arena = arenas[slot];
                if (!arena.isClosed())
                {
                    return bounds(arena);
                }
                try
                {
                    final long ref = arena.allocate(64);
                    return "a closed arena handed out " + Long.toHexString(ref) + " (" + arena.stats() + ")";
                }
                catch (final IllegalStateException expected)
                {
                    // refused, as after a close
                }
                arena.close(); // the retry
                if (arena.stats().bytesReserved() != 0 || arena.blockCount() != 0)
                {
                    return "a closed arena still holds " + arena.blockCount() + " blocks (" + arena.stats() + ")";
                }
                return null;
            }
        }

        /** Three blocks, then a reset. */
        static final class ResetDown extends Arenas
        {
            @Override
            public void build(final int slot)
            {
                final Arena arena = Arena.withCapacity(4096);
                arenas[slot] = arena;
                arena.allocate(1000);
                arena.allocate(4000);
                arena.allocate(8000);
            }

            @Override
            public void attempt(final int slot)
            {
                arenas[slot].reset();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                arenas[slot].reset(); // the retry
                if (arenas[slot].stats().bytesAllocated() != 0)
                {
                    return "after the reset " + arenas[slot].stats().bytesAllocated() + " bytes allocated, not 0";
                }
                return bounds(arenas[slot]);
            }
        }

        /** A full own block of 100,000 bytes, then a request that gets a smaller own block after it. */
        static final class SmallerBlock extends Arenas
        {
            @Override
            public void build(final int slot)
            {
                final Arena arena = Arena.builder().initialBlockSize(4096).maxBlockSize(4096).build();
                arenas[slot] = arena;
                arena.allocate(100_000); // a block of its own, full
            }

            @Override
            public void attempt(final int slot)
            {
                arenas[slot].allocate(5000); // another own block, smaller
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                return bounds(arenas[slot]);
            }
        }

        /** A top-level transaction with a budget of 256 bytes, rolled back. */
        static final class RollbackBudget extends Arenas
        {
            final Transaction[] txs = new Transaction[SLOTS];

            @Override
            public void build(final int slot)
            {
                final Arena arena = Arena.withCapacity(65536);
                arenas[slot] = arena;
                arena.allocate(64);
                txs[slot] = arena.transaction();
                txs[slot].setLimit(256);
                txs[slot].allocate(64);
            }

            @Override
            public void attempt(final int slot)
            {
                txs[slot].close();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                txs[slot].close(); // the retry
                final Arena arena = arenas[slot];
                if (arena.transactionDepth() != 0)
                {
                    return arena.transactionDepth() + " transactions open after the rollback";
                }
                try
                {
                    arena.allocate(4096);
                }
                catch (final BudgetExceededException ex)
                {
                    return "the rolled back transaction's budget still applies: " + ex.getMessage();
                }
                return bounds(arena);
            }
        }

        /**
         * A savepoint with a budget of its own, narrower than the outer one's, rolled back: the outer transaction must go
         * on under its own budget. Empty, the savepoint has nothing allocated in it (so the rollback discards nothing),
         * and the outer budget must be back exactly.
         */
        static final class RollbackSavepoint extends Arenas
        {
            private final boolean empty;
            final Transaction[] outer = new Transaction[SLOTS];
            final Transaction[] inner = new Transaction[SLOTS];

            RollbackSavepoint(final boolean empty)
            {
                this.empty = empty;
            }

            @Override
            public void build(final int slot)
            {
                final Arena arena = Arena.withCapacity(65536);
                arenas[slot] = arena;
                outer[slot] = arena.transaction();
                outer[slot].setLimit(empty ? 10_000 : 100_000);
                outer[slot].allocate(64);
                inner[slot] = outer[slot].savepoint();
                inner[slot].setLimit(256);
                if (!empty)
                {
                    inner[slot].allocate(64);
                }
            }

            @Override
            public void attempt(final int slot)
            {
                inner[slot].close();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                inner[slot].close(); // the retry
                final Arena arena = arenas[slot];
                if (arena.transactionDepth() != 1)
                {
                    return arena.transactionDepth() + " transactions open after the savepoint's rollback, not 1";
                }
                if (empty && outer[slot].budgetRemaining() != 10_000 - 64)
                {
                    return "the outer budget has " + outer[slot].budgetRemaining() + " bytes left, not 9936";
                }
                try
                {
                    outer[slot].allocate(4096);
                    outer[slot].commit();
                }
                catch (final RuntimeException ex)
                {
                    return "the outer transaction cannot go on: " + ex;
                }
                return empty ? null : bounds(arena);
            }
        }

        /** A savepoint (with or without its own budget) committed: the outer transaction must go on. */
        static final class CommitSavepoint extends Arenas
        {
            final boolean budget;
            final Transaction[] outer = new Transaction[SLOTS];
            final Transaction[] inner = new Transaction[SLOTS];

            CommitSavepoint(final boolean budget)
            {
                this.budget = budget;
            }

            @Override
            public void build(final int slot)
            {
                final Arena arena = Arena.withCapacity(65536);
                arenas[slot] = arena;
                outer[slot] = arena.transaction();
                outer[slot].allocate(64);
                inner[slot] = outer[slot].savepoint();
                if (budget)
                {
                    inner[slot].setLimit(256);
                }
                inner[slot].allocate(64);
            }

            @Override
            public void attempt(final int slot)
            {
                inner[slot].commit();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Arena arena = arenas[slot];
                if (!inner[slot].isCommitted())
                {
                    try
                    {
                        inner[slot].commit(); // the retry
                    }
                    catch (final RuntimeException ex)
                    {
                        return "the retried commit failed: " + ex;
                    }
                }
                if (arena.transactionDepth() != 1)
                {
                    return arena.transactionDepth() + " transactions open after the savepoint's commit, not 1";
                }
                try
                {
                    outer[slot].allocate(4096);
                    outer[slot].commit();
                }
                catch (final RuntimeException ex)
                {
                    return "the outer transaction cannot go on: " + ex;
                }
                return bounds(arena);
            }
        }
    }
}
