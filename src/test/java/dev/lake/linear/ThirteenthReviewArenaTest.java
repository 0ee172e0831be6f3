package dev.lake.linear;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Thirteenth review of the growable arena (hostile review: {@link Arena}, {@link ArenaVec}, {@link ArenaView},
 * {@link Checkpoint}, {@link Transaction}, cleanups). No test here failed on the code under review: they pin promises
 * no earlier test held, chiefly what cleanup actions may do while a rewind, rollback, reset or close runs them
 * (allocate, even a new block; push into a vector, growing it; finish a vector, giving its tail back) against memory
 * safety, budgets and the native memory count. The memory-safety oracle is independent of the arena's positions and
 * cut stack: the absolute address ranges of everything the arena still says is live never overlap, and hold what was
 * written.
 */
class ThirteenthReviewArenaTest
{
    /** A raw allocation (ref, size, fill) or a vector of longs (vec, then view after finish, and its values). */
    static final class Obj
    {
        long ref;
        long end;
        int size;
        byte fill;
        ArenaVec.OfLong vec;
        ArenaView.OfLong view;
        long[] values;
    }

    /** Runs {@code r}, accepting the planted cleanup failure ("boom"), which comes after the operation completed. */
    static void boomed(final Runnable r)
    {
        try
        {
            r.run();
        }
        catch (final IllegalStateException ex)
        {
            if (!"boom".equals(ex.getMessage()))
            {
                throw ex;
            }
        }
    }

    /**
     * Random mixes: allocations of 1 B to 20 KB aligned 1 to 4,096 (through the arena and the innermost transaction),
     * checkpoints and rewinds, resets, transactions and savepoints (some budgeted) committed or rolled back out of
     * order, vectors of longs pushed, popped, reserved, batch-built and finished, and cleanup actions that allocate,
     * push into a vector, finish a vector or throw; first blocks of 64 B to 8 KiB, doubling caps from 128 B, reserve
     * limits from 16 KiB. After every step: no two live things overlap, each holds its bytes, the arena's bytes
     * allocated stay within its reservation, and no open transaction's budget is exceeded. Native memory is back to
     * its baseline at the end. {@code -Dr13.runs=N -Dr13.seed=S} for longer runs (8,000 and 6,000 runs of two seeds
     * passed during the review).
     */
    @Test
    void cleanupsThatAllocatePushOrFinishDuringRewindsNeverOverlapLiveMemoryNorBreakABudget()
    {
        final long baseline = NativeMemory.reservedBytes();
        for (int run = 0; run < Integer.getInteger("r13.runs", 400); run++)
        {
            final long seed = Long.getLong("r13.seed", 77) + run * 0x9E3779B97F4A7C15L;
            final SplittableRandom r = new SplittableRandom(seed);
            final List<String> log = new ArrayList<>();
            final Arena arena = Arena.builder().initialBlockSize(64 << r.nextInt(8)).maxBlockSize(128 << r.nextInt(8))
                .maxReservedBytes(r.nextBoolean() ? Long.MAX_VALUE : 16384L << r.nextInt(6)).build();
            final List<Obj> live = new ArrayList<>();
            final List<Checkpoint> cps = new ArrayList<>();
            final List<Transaction> txs = new ArrayList<>();
            int step = 0;
            try
            {
                for (step = 0; step < 300; step++)
                {
                    final int op = r.nextInt(100);
                    if (op < 30)
                    {
                        final int size = 1 + r.nextInt(r.nextInt(4) == 0 ? 20000 : 200);
                        final int align = 1 << r.nextInt(13);
                        final long ref = r.nextBoolean() ? arena.tryAllocate(size, align) :
                            (txs.isEmpty() ? arena.tryAllocate(size, align) : txs.get(txs.size() - 1).tryAllocate(size, align));
                        log.add(step + " alloc " + size + " a" + align + " -> " + Long.toHexString(ref));
                        if (ref != Arena.NULL)
                        {
                            final UnsafeBuffer b = arena.buffer(ref);
                            assertEquals(0, (b.addressOffset() + Arena.offset(ref)) & (align - 1));
                            final Obj o = new Obj();
                            o.ref = ref;
                            o.size = size;
                            o.end = ref + size;
                            o.fill = (byte)r.nextInt();
                            b.setMemory(Arena.offset(ref), size, o.fill);
                            live.add(o);
                        }
                    }
                    else if (op < 38)
                    {
                        cps.add(arena.checkpoint());
                        log.add(step + " cp " + cps.get(cps.size() - 1));
                    }
                    else if (op < 46 && !cps.isEmpty())
                    {
                        final Checkpoint cp = cps.get(r.nextInt(cps.size()));
                        log.add(step + " rewind " + cp);
                        try
                        {
                            boomed(() -> arena.rewind(cp));
                            final long p = cp.block() * (1L << 32) + cp.offset();
                            live.removeIf(o -> o.end > p);
                        }
                        catch (final IllegalStateException ex)
                        {
                            log.add("  refused " + ex.getClass().getSimpleName());
                        }
                    }
                    else if (op < 48 && txs.isEmpty())
                    {
                        log.add(step + " reset");
                        boomed(arena::reset);
                        live.clear();
                    }
                    else if (op < 56)
                    {
                        txs.add(arena.transaction());
                        log.add(step + " begin " + txs.size());
                        if (r.nextInt(3) == 0)
                        {
                            txs.get(txs.size() - 1).setLimit(r.nextInt(5000));
                        }
                    }
                    else if (op < 62 && !txs.isEmpty())
                    {
                        final Transaction t = txs.remove(txs.size() - 1);
                        log.add(step + " commit " + (txs.size() + 1));
                        t.commit();
                    }
                    else if (op < 68 && !txs.isEmpty())
                    {
                        final int i = r.nextInt(txs.size());
                        final long start = txs.get(i).checkpoint().block() * (1L << 32) + txs.get(i).checkpoint().offset();
                        log.add(step + " rollback " + (i + 1));
                        final Transaction victim = txs.get(i);
                        boomed(victim::rollback);
                        while (txs.size() > i)
                        {
                            txs.remove(txs.size() - 1);
                        }
                        live.removeIf(o -> o.end > start);
                    }
                    else if (op < 74)
                    {
                        final Obj o = new Obj();
                        try
                        {
                            o.vec = ArenaVec.ofLongs(arena, r.nextInt(3) == 0 ? r.nextInt(20) : 0);
                        }
                        catch (final BudgetExceededException | OutOfMemoryError ex)
                        {
                            continue;
                        }
                        o.values = new long[0];
                        live.add(o);
                        log.add(step + " vec");
                    }
                    else if (op >= 94)
                    {
                        final int kind = r.nextInt(4);
                        final Obj target = live.isEmpty() ? null : live.get(r.nextInt(live.size()));
                        final int size = 1 + r.nextInt(3000);
                        final long value = r.nextLong();
                        log.add(step + " defer kind " + kind);
                        arena.defer(() -> {
                            if (kind == 0)
                            {
                                final long ref = arena.tryAllocate(size, 8);
                                if (ref != Arena.NULL)
                                {
                                    arena.buffer(ref).setMemory(Arena.offset(ref), size, (byte)0x5A);
                                }
                            }
                            else if (kind == 1 && target != null && target.vec != null && target.values != null)
                            {
                                try
                                {
                                    target.vec.push(value);
                                    target.values = java.util.Arrays.copyOf(target.values, target.values.length + 1);
                                    target.values[target.values.length - 1] = value;
                                }
                                catch (final StaleHandleException | BudgetExceededException | OutOfMemoryError ex)
                                {
                                    // stale or refused: nothing pushed
                                }
                            }
                            else if (kind == 2 && target != null && target.vec != null && target.values != null)
                            {
                                try
                                {
                                    target.view = target.vec.finish();
                                    target.vec = null;
                                }
                                catch (final StaleHandleException ex)
                                {
                                    // stale
                                }
                            }
                            else if (kind == 3)
                            {
                                throw new IllegalStateException("boom");
                            }
                        });
                    }
                    else if (op < 94)
                    {
                        final List<Obj> vecs = new ArrayList<>();
                        for (final Obj o : live)
                        {
                            if (o.vec != null)
                            {
                                vecs.add(o);
                            }
                        }
                        if (vecs.isEmpty())
                        {
                            continue;
                        }
                        final Obj o = vecs.get(r.nextInt(vecs.size()));
                        final int what = r.nextInt(6);
                        log.add(step + " vecop " + what);
                        try
                        {
                            if (what == 0)
                            {
                                final long v = r.nextLong();
                                o.vec.push(v);
                                o.values = java.util.Arrays.copyOf(o.values, o.values.length + 1);
                                o.values[o.values.length - 1] = v;
                            }
                            else if (what == 1)
                            {
                                final int n = r.nextInt(100);
                                final long base = r.nextLong();
                                o.vec.addAll(n, i -> base + i);
                                final int old = o.values.length;
                                o.values = java.util.Arrays.copyOf(o.values, old + n);
                                for (int i = 0; i < n; i++) o.values[old + i] = base + i;
                            }
                            else if (what == 2 && o.values.length > 0)
                            {
                                o.vec.pop();
                                o.values = java.util.Arrays.copyOf(o.values, o.values.length - 1);
                            }
                            else if (what == 3)
                            {
                                final ArenaView.OfLong view = o.vec.finish();
                                o.vec = null;
                                o.view = view;
                            }
                            else if (what == 4)
                            {
                                o.vec.tryReserve(r.nextInt(300));
                            }
                        }
                        catch (final BudgetExceededException | OutOfMemoryError ex)
                        {
                            log.add("  refused " + ex);
                        }
                        catch (final StaleHandleException ex)
                        {
                            log.add("  stale");
                            live.remove(o);
                        }
                    }
                    // verify
                    final ArenaStats st = arena.stats();
                    assertTrue(st.bytesAllocated() <= st.bytesReserved(), st.toString());
                    for (final Transaction t : txs)
                    {
                        if (t.limit() != Arena.UNLIMITED)
                        {
                            assertTrue(t.bytesUsed() <= t.limit(), "budget exceeded: " + t.bytesUsed() + " > " + t.limit());
                        }
                        assertTrue(t.budgetRemaining() >= 0);
                        assertEquals(t.bytesUsed(), t.diff().bytesAllocated(), "diff and bytesUsed agree");
                    }
                    final List<long[]> ranges = new ArrayList<>();
                    for (final Obj o : live)
                    {
                        if (o.values == null)
                        {
                            continue;
                        }
                        if (o.vec != null || o.view != null)
                        {
                            long[] got = null;
                            long addr = 0;
                            int len = 0;
                            try
                            {
                                if (o.vec != null)
                                {
                                    got = o.vec.toArray();
                                    len = o.vec.capacity() * 8;
                                    addr = o.vec.address;
                                }
                                else
                                {
                                    got = o.view.toArray();
                                    len = o.view.size() * 8;
                                    addr = o.view.buffer().addressOffset() + o.view.offset();
                                }
                            }
                            catch (final StaleHandleException ex)
                            {
                                o.vec = null;
                                o.view = null;
                                o.values = null;
                                continue;
                            }
                            assertArrayEquals(o.values, got, "vector contents");
                            if (len > 0)
                            {
                                ranges.add(new long[] {addr, addr + len});
                            }
                        }
                        else
                        {
                            final UnsafeBuffer b = arena.buffer(o.ref);
                            final long addr = b.addressOffset() + Arena.offset(o.ref);
                            for (int i = 0; i < o.size; i++)
                            {
                                assertEquals(o.fill, b.getByte(Arena.offset(o.ref) + i), "byte " + i + " of " + Long.toHexString(o.ref));
                            }
                            ranges.add(new long[] {addr, addr + o.size});
                        }
                    }
                    ranges.sort((a, b) -> Long.compare(a[0], b[0]));
                    for (int i = 1; i < ranges.size(); i++)
                    {
                        assertTrue(ranges.get(i - 1)[1] <= ranges.get(i)[0], "overlap");
                    }
                }
                boomed(arena::close);
            }
            catch (final Throwable ex)
            {
                boomed(arena::close);
                throw new AssertionError("seed run " + run + " step " + step + "\n" +
                    String.join("\n", log.subList(Math.max(0, log.size() - 30), log.size())), ex);
            }
        }
        assertEquals(baseline, NativeMemory.reservedBytes());
    }

    /**
     * close() runs the cleanup actions before it frees the blocks, and they may allocate: a block one of them makes
     * (here a block of its own, 1 MiB) is freed with the others, and native memory is back to its baseline.
     */
    @Test
    void aBlockACleanupMakesWhileCloseRunsItIsFreedByThatClose()
    {
        final long baseline = NativeMemory.reservedBytes();
        final Arena arena = Arena.withCapacity(1024);
        final long[] grown = new long[1];
        arena.defer(() -> {
            final long ref = arena.allocate(1 << 20, 8);
            arena.buffer(ref).putLong(Arena.offset(ref), 42); // the block is there while the action runs
            grown[0] = arena.blockCount();
        });
        arena.close();
        assertEquals(2, grown[0], "the action grew the arena by a block");
        assertEquals(0, arena.stats().blockCount());
        assertEquals(baseline, NativeMemory.reservedBytes(), "the block made during close is freed too");
    }

    /**
     * A cleanup action run by a rewind may finish the arena's last vector; finish() gives back the vector's unused
     * tail, but never below the checkpoint being rewound to (the vector grew in place over it): the rewind ends at the
     * checkpoint, the checkpoint stays valid, and what lies below it (the vector's kept element) is not handed out
     * again.
     */
    @Test
    void aCleanupThatFinishesTheLastVectorDuringARewindGivesNothingBackBelowTheCheckpoint()
    {
        try (Arena arena = Arena.withCapacity(4096))
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 4); // [0, 32)
            for (int i = 0; i < 4; i++)
            {
                vec.push(100 + i);
            }
            final Checkpoint cp = arena.checkpoint(); // at 32, inside the capacity once the vector grows over it
            final ArenaView.OfLong[] view = new ArenaView.OfLong[1];
            arena.defer(() -> {
                while (vec.size() > 1)
                {
                    vec.pop();
                }
                view[0] = vec.finish(); // data [0, 8): the tail down to the checkpoint is all it may give back
            });
            vec.push(104); // grows in place to [0, 64), over the checkpoint
            arena.rewind(cp);
            assertTrue(cp.isValid(), "the checkpoint rewound to is still valid");
            assertEquals(32, arena.bytesAllocated(), "the rewind ends at the checkpoint, not below it");
            final long next = arena.allocate(8, 8);
            assertEquals(32, Arena.offset(next), "nothing below the checkpoint is handed out again");
            arena.buffer(next).putLong(Arena.offset(next), -1);
            assertArrayEquals(new long[] {100}, view[0].toArray(), "the finished vector's element is intact");
        }
    }
}
