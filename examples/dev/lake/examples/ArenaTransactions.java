package dev.lake.examples;

import dev.lake.linear.Arena;
import dev.lake.linear.ArenaVec;
import dev.lake.linear.ArenaView;
import dev.lake.linear.BudgetExceededException;
import dev.lake.linear.Checkpoint;
import dev.lake.linear.Transaction;
import dev.lake.linear.TxnDiff;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * arena_transactions: a growable {@link Arena} (a chain of off-heap blocks) and its scopes, each step printed
 * and checked as it runs:
 * <ol>
 *   <li>growth and checkpoints: blocks double as the arena fills, {@code rewind(checkpoint)} frees everything
 *   since and keeps the blocks warm, a checkpoint rewound past is stale;</li>
 *   <li>transactions with savepoints: an inner rollback keeps the outer work, a committed savepoint joins its
 *   parent, {@link TxnDiff} counts what a transaction allocated;</li>
 *   <li>{@code withTransaction}: commits on return, rolls back when the body throws;</li>
 *   <li>budgets: {@code setLimit} caps a transaction, an over-budget request throws
 *   {@link BudgetExceededException} and allocates nothing, savepoints inherit the budget;</li>
 *   <li>cleanup tracking: {@code defer}/{@code deferClose} actions run newest first (LIFO) when their memory is
 *   freed;</li>
 *   <li>{@link ArenaVec}: push, grow in place, a batch from a generator, {@code finish()} into a read-only
 *   {@link ArenaView};</li>
 *   <li>the zero-garbage token tier: {@code beginTransaction}/{@code commitTransaction}/{@code endTransaction}
 *   with no object per transaction, measured with the JVM's per-thread allocation counter;</li>
 *   <li>O(1) stats.</li>
 * </ol>
 * It ends with the arena closed and Lake's native byte count back where it was.
 *
 * <p>Run: {@code mvn -q -B test-compile exec:exec -Dexample=dev.lake.examples.ArenaTransactions}
 */
public final class ArenaTransactions
{
    private static final int TOKEN_ROUNDS = 200_000;

    private static int checks;

    private ArenaTransactions()
    {
    }

    /**
     * @param args ignored.
     * @throws IllegalStateException if a step does not do what it claims (the example checks itself).
     */
    public static void main(final String[] args)
    {
        checks = 0;
        final long baseline = NativeMemory.reservedBytes();
        try (Arena arena = Arena.builder().initialBlockSize(4096).maxBlockSize(64 * 1024).build())
        {
            System.out.printf("new arena: %s%n", arena.stats());
            checkpoints(arena);
            transactions(arena);
            withTransaction(arena);
            budgets(arena);
            cleanups(arena);
            vectors(arena);
            tokens(arena);
            System.out.printf("%n== stats ==%n%s: utilization %.1f%%, idle %,d B, %d blocks%n",
                arena.stats(), arena.stats().utilization() * 100, arena.stats().bytesIdle(), arena.blockCount());
        }
        final long held = NativeMemory.reservedBytes() - baseline;
        check(held == 0, "closing the arena freed every block");
        System.out.printf("arena_transactions: %d checks passed, native bytes held after close: %,d%n", checks, held);
    }

    private static void checkpoints(final Arena arena)
    {
        System.out.println("\n== growth and checkpoints ==");
        arena.allocate(64);
        final Checkpoint checkpoint = arena.checkpoint();
        for (int i = 0; i < 20; i++)
        {
            arena.allocate(1000);
        }
        final int blocks = arena.blockCount();
        System.out.printf("after 20 x 1000 B: %s%n", arena.stats());
        check(blocks > 1, "the arena grew from one 4 KiB block to " + blocks + " blocks");
        final Checkpoint later = arena.checkpoint();
        arena.rewind(checkpoint);
        System.out.printf("after rewind(checkpoint): %s%n", arena.stats());
        check(arena.bytesAllocated() == 64 && arena.blockCount() == blocks,
            "rewind freed the 20,000 B and kept the blocks warm for reuse");
        try
        {
            arena.rewind(later);
            throw new IllegalStateException("a checkpoint above a rewind was accepted");
        }
        catch (final StaleHandleException expected)
        {
            System.out.println("misuse: rewind to a checkpoint rewound past: " + expected.getMessage());
        }
        arena.reset();
    }

    private static void transactions(final Arena arena)
    {
        System.out.println("\n== transactions and savepoints ==");
        final long before = arena.bytesAllocated();
        try (Transaction order = arena.transaction())
        {
            order.allocate(128);
            try (Transaction attempt = order.savepoint())
            {
                attempt.allocate(512);
                System.out.printf("savepoint at depth %d holds %d B; arena depth %d%n",
                    attempt.depth(), attempt.bytesUsed(), attempt.arenaDepth());
            }
            check(order.bytesUsed() == 128, "the savepoint closed without commit: its 512 B rolled back, the 128 B stay");
            try (Transaction fill = order.savepoint())
            {
                fill.allocate(256);
                fill.commit();
            }
            final TxnDiff diff = order.diff();
            System.out.printf("transaction diff: %s%n", diff);
            // bytes are what the transaction holds now; the count is of allocations made, the rolled-back one too
            check(diff.bytesAllocated() == 384 && diff.allocationCount() == 3,
                "the diff holds the outer 128 B and the committed savepoint's 256 B (3 allocations were made)");
            order.commit();
        }
        check(arena.bytesAllocated() - before == 384, "committing the transaction kept its 384 B");

        final long committed = arena.bytesAllocated();
        try (Transaction discarded = arena.transaction())
        {
            discarded.allocate(1000);
            try (Transaction inner = discarded.savepoint())
            {
                inner.allocate(100);
                inner.commit();
            }
        }
        check(arena.bytesAllocated() == committed,
            "an outer rollback discards everything inside, committed savepoints included");
        arena.reset();
    }

    private static void withTransaction(final Arena arena)
    {
        System.out.println("\n== withTransaction ==");
        final long sumOfSquares = arena.withTransaction(tx ->
        {
            final long ref = tx.allocate(100 * Long.BYTES);
            final int at = Arena.offset(ref);
            for (int i = 0; i < 100; i++)
            {
                tx.buffer(ref).putLong(at + i * Long.BYTES, (long)i * i);
            }
            long sum = 0;
            for (int i = 0; i < 100; i++)
            {
                sum += tx.buffer(ref).getLong(at + i * Long.BYTES);
            }
            return sum;
        });
        System.out.printf("body returned %,d; arena holds %d B%n", sumOfSquares, arena.bytesAllocated());
        check(sumOfSquares == 328_350 && arena.bytesAllocated() == 800, "a body that returns is committed");

        try
        {
            arena.withTransaction(tx ->
            {
                tx.allocate(4000);
                throw new IOException("simulated: the feed dropped mid-message");
            });
            throw new IllegalStateException("the body's exception was swallowed");
        }
        catch (final IOException expected)
        {
            System.out.println("body threw: " + expected.getMessage());
        }
        check(arena.bytesAllocated() == 800, "a body that throws is rolled back: its 4000 B are gone");
        arena.reset();
    }

    private static void budgets(final Arena arena)
    {
        System.out.println("\n== budgets ==");
        try (Transaction tx = arena.transaction())
        {
            tx.setLimit(1024);
            tx.allocate(600);
            final long used = tx.bytesUsed();
            try
            {
                tx.allocate(600);
                throw new IllegalStateException("a request over budget was allowed");
            }
            catch (final BudgetExceededException expected)
            {
                System.out.println("caught BudgetExceededException: " + expected.getMessage());
            }
            check(tx.bytesUsed() == used && tx.budgetRemaining() == 1024 - used,
                "the refused request allocated nothing: " + tx.budgetRemaining() + " B of budget left");
            check(tx.tryAllocate(600, 8) == Arena.NULL, "tryAllocate over budget returns Arena.NULL instead");
            final long parentRemaining = tx.budgetRemaining();
            try (Transaction savepoint = tx.savepoint())
            {
                check(savepoint.budgetRemaining() == parentRemaining, "a savepoint inherits its parent's budget");
                savepoint.setLimit(100);
                check(savepoint.budgetRemaining() == 100, "and can only narrow it: 100 B");
            }
        }
        arena.reset();
    }

    private static void cleanups(final Arena arena)
    {
        System.out.println("\n== cleanup tracking (LIFO) ==");
        final List<String> log = new ArrayList<>();
        final Checkpoint checkpoint = arena.checkpoint();
        arena.defer(() -> log.add("release the order-book lock"));
        arena.allocate(256);
        arena.defer(() -> log.add("flush the journal"));
        arena.deferClose(() -> log.add("close the capture file"));
        arena.rewind(checkpoint);
        System.out.println("rewind ran: " + log);
        check(log.equals(List.of("close the capture file", "flush the journal", "release the order-book lock")),
            "cleanup actions ran newest first when their memory was freed");

        log.clear();
        try (Transaction tx = arena.transaction())
        {
            tx.allocate(64);
            tx.defer(() -> log.add("undo the reservation"));
        }
        check(log.equals(List.of("undo the reservation")), "a rollback runs the actions registered inside it");
        arena.reset();
    }

    private static void vectors(final Arena arena)
    {
        System.out.println("\n== ArenaVec ==");
        final ArenaVec.OfLong prices = ArenaVec.ofLongs(arena);
        long expected = 0;
        for (int i = 0; i < 1000; i++)
        {
            prices.push(10_000 + i);
            expected += 10_000 + i;
        }
        // storage the vector outgrew where it could not grow in place stays in the arena until a rewind
        System.out.printf("pushed %d prices, capacity %d, arena holds %,d B (outgrown storage included)%n",
            prices.size(), prices.capacity(), arena.bytesAllocated());
        final ArenaView.OfLong view = prices.finish();
        long sum = 0;
        for (int i = 0; i < view.size(); i++)
        {
            sum += view.get(i);
        }
        check(view.size() == 1000 && sum == expected, "finish() hands the 1000 prices over as a read-only view");
        try
        {
            prices.push(1);
            throw new IllegalStateException("a finished vector accepted a push");
        }
        catch (final StaleHandleException expectedMisuse)
        {
            System.out.println("misuse: push after finish(): " + expectedMisuse.getMessage());
        }
        // a batch from an index generator: one reservation, one store per value, all or nothing
        final ArenaVec.OfLong squares = ArenaVec.ofLongs(arena);
        squares.addAll(4096, i -> (long)i * i);
        check(squares.size() == 4096 && squares.get(4095) == 4095L * 4095, "addAll(count, generator) builds 4096 squares");
        System.out.printf("generated %d squares in one batch, last %,d%n", squares.size(), squares.get(4095));
        arena.reset();
        check(!view.isValid(), "reset() ends the view's memory: the view is stale");
    }

    private static void tokens(final Arena arena)
    {
        System.out.println("\n== zero-garbage token tier ==");
        final long before = arena.bytesAllocated();
        final long kept = arena.beginTransaction();
        try
        {
            arena.allocate(64);
            arena.commitTransaction(kept);
        }
        finally
        {
            arena.endTransaction(kept);
        }
        check(arena.bytesAllocated() - before == 64, "a committed token transaction keeps its 64 B");

        final long committedBytes = arena.bytesAllocated();
        long checksum = 0;
        for (int i = 0; i < TOKEN_ROUNDS; i++)
        {
            checksum += scratchRound(arena, i);
        }
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        final long heapBefore = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < TOKEN_ROUNDS; i++)
        {
            checksum += scratchRound(arena, i);
        }
        final long heapBytes = threads.getCurrentThreadAllocatedBytes() - heapBefore;
        System.out.printf("%,d token transactions (each: allocate, nested savepoint, commit, roll back): " +
            "%,d heap bytes allocated, %.3f B per transaction (checksum %d)%n",
            TOKEN_ROUNDS, heapBytes, (double)heapBytes / TOKEN_ROUNDS, checksum);
        check(arena.bytesAllocated() == committedBytes, "every scratch round was rolled back: the arena did not grow");
        check(heapBytes < TOKEN_ROUNDS, "token transactions allocate no Java object (< 1 B per transaction)");
    }

    /** One message's scratch work on the token tier: nothing here allocates a Java object. */
    private static long scratchRound(final Arena arena, final int i)
    {
        final long tx = arena.beginTransaction();
        try
        {
            final long ref = arena.allocate(64);
            arena.buffer(ref).putLong(Arena.offset(ref), i);
            final long savepoint = arena.beginTransaction();
            try
            {
                final long more = arena.allocate(256);
                arena.buffer(more).putLong(Arena.offset(more), i * 2L);
                arena.commitTransaction(savepoint);
            }
            finally
            {
                arena.endTransaction(savepoint);
            }
            return arena.buffer(ref).getLong(Arena.offset(ref));
        }
        finally
        {
            arena.endTransaction(tx);
        }
    }

    private static void check(final boolean ok, final String what)
    {
        if (!ok)
        {
            throw new IllegalStateException("arena_transactions check failed: " + what);
        }
        checks++;
        System.out.println("  ok: " + what);
    }
}
