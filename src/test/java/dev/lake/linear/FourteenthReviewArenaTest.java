package dev.lake.linear;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Fourteenth review of the growable arena: the block growth policy (the second own block in a row moving the
 * doubling up to the request, the reserve limit, kept blocks swapped into place), budgets and transaction metrics,
 * against an exact model of block layout written from docs/arena.md.
 */
class FourteenthReviewArenaTest
{
    // ------------------------------------------------------------------------------------------------------------
    // The model: blocks in chain order, positions as (block, offset), budgets as absolute ends
    // ------------------------------------------------------------------------------------------------------------

    static final class Model
    {
        final int maxBlockSize;
        final long maxReserved;
        final List<Integer> blocks = new ArrayList<>();
        final List<Long> usedBefore = new ArrayList<>();
        int current;
        int offset;
        long reserved;
        int nextBlockSize;
        boolean lastBlockOwn;
        long allocations;
        // open transactions, depth 1..n at index 0..n-1
        final List<long[]> tx = new ArrayList<>(); // {startBlock, startOffset, startUsed, ownLimit (-1: none), startAllocations}

        Model(final int initial, final int maxBlock, final long maxReserved)
        {
            this.maxBlockSize = Math.max(maxBlock, initial);
            this.maxReserved = maxReserved;
            blocks.add(initial);
            usedBefore.add(0L);
            reserved = initial;
            nextBlockSize = (int)Math.min(maxBlockSize, 2L * initial);
        }

        long used()
        {
            return usedBefore.get(current) + offset;
        }

        long budgetEnd()
        {
            long end = Long.MAX_VALUE;
            for (final long[] t : tx)
            {
                if (t[3] >= 0)
                {
                    end = Math.min(end, t[2] + t[3]);
                }
            }
            return end;
        }

        /** Returns the reference, or throws what the arena should: "budget", "reserve". */
        long allocate(final int size, final int alignment)
        {
            final long start = (offset + alignment - 1) & -alignment; // blocks start on 64-byte lines
            final long budgetEnd = budgetEnd();
            if (start + size <= blocks.get(current))
            {
                if (usedBefore.get(current) + start + size > budgetEnd)
                {
                    throw new ModelRefusal("budget");
                }
                offset = (int)(start + size);
                allocations++;
                return ((long)current << 32) | start;
            }
            final long usedNow = used();
            int next = -1;
            for (int i = current + 1; i < blocks.size(); i++)
            {
                if (blocks.get(i) >= size)
                {
                    next = i;
                    break;
                }
            }
            if (usedNow + size > budgetEnd)
            {
                throw new ModelRefusal("budget");
            }
            if (next < 0)
            {
                int standard = nextBlockSize;
                if (size > standard && lastBlockOwn && size <= maxBlockSize)
                {
                    // docs/arena.md: the new block is max(twice the next size, the request), within maxBlockSize,
                    // unless that block would cross maxReservedBytes where the request's own block would not
                    final int jump = (int)Math.min(maxBlockSize, Math.max(2L * standard, size));
                    if (reserved + jump <= maxReserved)
                    {
                        standard = jump;
                    }
                }
                final boolean own = size > standard;
                int blockSize = own ? size : standard;
                if (!own && reserved + blockSize > maxReserved && reserved + size <= maxReserved)
                {
                    // docs/arena.md: a last, smaller block of what the limit has left, when the request fits in it
                    blockSize = (int)(maxReserved - reserved);
                }
                if (reserved + blockSize > maxReserved)
                {
                    throw new ModelRefusal("reserve");
                }
                blocks.add(blockSize);
                usedBefore.add(0L);
                next = blocks.size() - 1;
                reserved += blockSize;
                if (!own)
                {
                    nextBlockSize = (int)Math.min(maxBlockSize, 2L * standard);
                }
                lastBlockOwn = own;
            }
            final int target = current + 1;
            if (next != target)
            {
                final int swap = blocks.get(target);
                blocks.set(target, blocks.get(next));
                blocks.set(next, swap);
            }
            usedBefore.set(target, usedNow);
            current = target;
            offset = size;
            allocations++;
            return (long)target << 32;
        }

        /** The model of a vector of longs: where its storage is and what it holds. */
        static final class Vec
        {
            int block;
            int start;
            int capacity;
            final List<Long> values = new ArrayList<>();
        }

        private long tryAllocate(final int size)
        {
            try
            {
                return allocate(size, 8);
            }
            catch (final ModelRefusal refusal)
            {
                return Arena.NULL;
            }
        }

        /** ArenaVec.grow as docs/arena.md describes it: in place when last, doubling (min 8), else exact. */
        boolean grow(final Vec v, final int additional, final boolean orThrow, final boolean exact)
        {
            final long needed = (long)v.values.size() + additional;
            if (needed <= v.capacity)
            {
                return true;
            }
            long target = exact ? needed : Math.max(needed, Math.max(8, 2L * v.capacity));
            if (v.capacity > 0 && (((long)v.block << 32) | (v.start + 8L * v.capacity)) == position())
            {
                final long room = Math.min(blocks.get(current), Math.max(0, budgetEnd() - usedBefore.get(current))) -
                    offset;
                if ((target - v.capacity) * 8 <= room)
                {
                    offset += (int)((target - v.capacity) * 8);
                    v.capacity = (int)target;
                    return true;
                }
                if (target > needed && (needed - v.capacity) * 8 <= room)
                {
                    offset += (int)((needed - v.capacity) * 8);
                    v.capacity = (int)needed;
                    return true;
                }
            }
            long ref = tryAllocate((int)(target * 8));
            if (ref == Arena.NULL && target > needed)
            {
                target = needed;
                ref = orThrow ? allocate((int)(needed * 8), 8) : tryAllocate((int)(needed * 8));
            }
            else if (ref == Arena.NULL && orThrow)
            {
                ref = allocate((int)(target * 8), 8);
            }
            if (ref == Arena.NULL)
            {
                return false;
            }
            v.block = (int)(ref >>> 32);
            v.start = (int)ref;
            v.capacity = (int)target;
            return true;
        }

        void moveTo(final long position)
        {
            current = (int)(position >>> 32);
            offset = (int)position;
        }

        long position()
        {
            return ((long)current << 32) | offset;
        }
    }

    static final class ModelRefusal extends RuntimeException
    {
        ModelRefusal(final String what)
        {
            super(what, null, false, false);
        }
    }

    /** A checkpoint with the model's view of it: the position, the innermost transaction when taken, validity. */
    static final class Cp
    {
        Checkpoint checkpoint;
        long position;
        Transaction owner; // innermost open transaction when taken (null: none)
        boolean valid = true;
    }

    static void invalidateAbove(final List<Cp> cps, final long target)
    {
        for (final Cp cp : cps)
        {
            if (cp.position > target)
            {
                cp.valid = false;
            }
        }
    }

    /**
     * docs/arena.md: a second own block in a row jumps the doubling to {@code max(twice the next size, the
     * request)} within {@code maxBlockSize}, "unless that block would cross maxReservedBytes where the request's own
     * block would not". The reserve check measured the jump before the {@code maxBlockSize} cap, so where twice the
     * next size is above the cap it refused a jump block that fits: the arena took an own block instead, and a third
     * request the jump block had room for was then refused by the reserve limit.
     */
    @Test
    void theJumpIsCheckedAgainstTheReserveLimitAtItsCappedSize()
    {
        // blocks: 3,000 first, then doubling to 6,000, capped at 10,000
        try (Arena arena = Arena.builder().initialBlockSize(3000).maxBlockSize(10_000)
            .maxReservedBytes(3000 + 7000 + 10_000 + 1000).build())
        {
            final long first = arena.allocate(7000, 8);
            assertEquals(7000, arena.buffer(first).capacity(), "the first large request: a block of its own");
            final long second = arena.allocate(7000, 8);
            assertEquals(10_000, arena.buffer(second).capacity(),
                "the jump: max(2 x 6,000, 7,000) capped at 10,000 fits the reserve limit (20,000 of 21,000)");
            final long third = arena.tryAllocate(2000, 8);
            assertNotEquals(Arena.NULL, third, "room in the jump block");
            assertEquals(Arena.block(second), Arena.block(third));
            assertEquals(3000 + 7000 + 10_000, arena.stats().bytesReserved());
        }
    }

    /**
     * Random sequences over small blocks: allocations (arena, transaction, try forms) of 1 B to twice the doubling
     * cap, aligned 1 to 64 (so padding is offset arithmetic the model can do), checkpoints and rewinds (valid and
     * stale), resets, transactions and savepoints with budgets committed or rolled back, setLimit on outer ones.
     * After every step: the reference, the exception, bytes allocated, bytes reserved, block count, the capacity of
     * the block an allocation landed in, each open transaction's bytes used, budget remaining and diff bytes agree
     * with the model. Native memory is back to its baseline after close.
     */
    @Test
    void growthBudgetsAndRewindsMatchAnExactModelOfTheBlockChain()
    {
        final long seed = Long.getLong("r14.seed", 0x14A7E7AL);
        final int runs = Integer.getInteger("r14.runs", 5000);
        final SplittableRandom random = new SplittableRandom(seed);
        final long baseline = NativeMemory.reservedBytes();
        for (int run = 0; run < runs; run++)
        {
            final long runSeed = random.nextLong();
            try
            {
                fuzzOnce(runSeed);
            }
            catch (final AssertionError | RuntimeException ex)
            {
                throw new AssertionError("run " + run + ", seed " + runSeed + ": " + ex, ex);
            }
        }
        assertEquals(baseline, NativeMemory.reservedBytes(), "native memory back to its baseline");
    }

    private static void fuzzOnce(final long seed)
    {
        final SplittableRandom r = new SplittableRandom(seed);
        final int initial = 64 << r.nextInt(7);                 // 64 B .. 4 KiB
        final int maxBlock = Math.max(initial, (64 << r.nextInt(9)) + (r.nextBoolean() ? 0 : r.nextInt(1, 4096)));
        final long maxReserved = r.nextInt(3) == 0 ? Long.MAX_VALUE : initial + r.nextInt(1, 200_000);
        final Model m = new Model(initial, maxBlock, maxReserved);
        final List<Cp> cps = new ArrayList<>();
        final List<Transaction> open = new ArrayList<>();
        final StringBuilder log = new StringBuilder();
        final ArenaVec.OfLong[] vec = new ArenaVec.OfLong[1];
        final Model.Vec[] mvec = new Model.Vec[1];
        try (Arena arena = Arena.builder().initialBlockSize(initial).maxBlockSize(maxBlock)
            .maxReservedBytes(maxReserved).build())
        {
            final int steps = r.nextInt(20, 120);
            for (int step = 0; step < steps; step++)
            {
                final int op = r.nextInt(120);
                if (op >= 100)
                {
                    if (vec[0] == null)
                    {
                        final int n = r.nextBoolean() ? 0 : r.nextInt(1, 2 * initial / 8 + 2);
                        log.append("vec(").append(n).append(") ");
                        final Model.Vec mv = new Model.Vec();
                        final String expected = refusal(() -> m.grow(mv, n, true, true));
                        ArenaVec.OfLong made = null;
                        String actual = null;
                        try
                        {
                            made = n == 0 ? ArenaVec.ofLongs(arena) : ArenaVec.ofLongs(arena, n);
                        }
                        catch (final BudgetExceededException ex)
                        {
                            actual = "budget";
                        }
                        catch (final OutOfMemoryError ex)
                        {
                            actual = "reserve";
                        }
                        assertEquals(expected, actual, log.toString());
                        if (made != null)
                        {
                            vec[0] = made;
                            mvec[0] = mv;
                        }
                    }
                    else
                    {
                        final ArenaVec.OfLong v = vec[0];
                        final Model.Vec mv = mvec[0];
                        final int kind = r.nextInt(4);
                        final int n = r.nextInt(0, r.nextBoolean() ? 40 : 2 * m.maxBlockSize / 8 + 2);
                        log.append("vop(").append(kind).append(',').append(n).append(") ");
                        if (kind == 0)
                        {
                            for (int k = 0; k < n; k++)
                            {
                                final long value = r.nextLong();
                                final String expected = mv.values.size() == mv.capacity ?
                                    refusal(() -> m.grow(mv, 1, true, false)) : null;
                                String actual = null;
                                try
                                {
                                    v.push(value);
                                }
                                catch (final BudgetExceededException ex)
                                {
                                    actual = "budget";
                                }
                                catch (final OutOfMemoryError ex)
                                {
                                    actual = "reserve";
                                }
                                assertEquals(expected, actual, "push " + k + "; " + log);
                                if (expected != null)
                                {
                                    break;
                                }
                                mv.values.add(value);
                            }
                        }
                        else if (kind == 3)
                        {
                            final boolean[] grew = new boolean[1];
                            assertNull(refusal(() -> grew[0] = m.grow(mv, n, false, false)));
                            assertEquals(grew[0], v.tryReserve(n), log.toString());
                        }
                        else
                        {
                            final String expected = refusal(() -> m.grow(mv, n, true, kind == 2));
                            String actual = null;
                            try
                            {
                                if (kind == 1)
                                {
                                    v.reserve(n);
                                }
                                else
                                {
                                    v.reserveExact(n);
                                }
                            }
                            catch (final BudgetExceededException ex)
                            {
                                actual = "budget";
                            }
                            catch (final OutOfMemoryError ex)
                            {
                                actual = "reserve";
                            }
                            assertEquals(expected, actual, log.toString());
                        }
                        assertEquals(mv.values.size(), v.size(), "vector size; " + log);
                        assertEquals(mv.capacity, v.capacity(), "vector capacity; " + log);
                        for (int i = 0; i < mv.values.size(); i++)
                        {
                            assertEquals((long)mv.values.get(i), v.get(i), "element " + i + "; " + log);
                        }
                    }
                }
                else if (op < 55)
                {
                    final int size;
                    final int pick = r.nextInt(10);
                    if (pick < 5)
                    {
                        size = r.nextInt(1, 65);
                    }
                    else if (pick < 8)
                    {
                        size = r.nextInt(1, 2 * initial + 1);
                    }
                    else
                    {
                        size = r.nextInt(1, 2 * m.maxBlockSize + 1);
                    }
                    final int alignment = 1 << r.nextInt(7);
                    final int how = open.isEmpty() ? r.nextInt(2) : r.nextInt(4);
                    log.append("alloc(").append(size).append(',').append(alignment).append(',').append(how).append(") ");
                    String expected = null;
                    long expectedRef = Arena.NULL;
                    final long allocationsBefore = m.allocations;
                    try
                    {
                        expectedRef = m.allocate(size, alignment);
                    }
                    catch (final ModelRefusal refusal)
                    {
                        expected = refusal.getMessage();
                    }
                    final boolean tryForm = how == 1 || how == 3;
                    long ref = Arena.NULL;
                    String actual = null;
                    try
                    {
                        if (how == 0)
                        {
                            ref = arena.allocate(size, alignment);
                        }
                        else if (how == 1)
                        {
                            ref = arena.tryAllocate(size, alignment);
                        }
                        else if (how == 2)
                        {
                            ref = open.get(open.size() - 1).allocate(size, alignment);
                        }
                        else
                        {
                            ref = open.get(open.size() - 1).tryAllocate(size, alignment);
                        }
                        if (ref == Arena.NULL)
                        {
                            actual = "null";
                        }
                    }
                    catch (final BudgetExceededException ex)
                    {
                        actual = "budget";
                    }
                    catch (final OutOfMemoryError ex)
                    {
                        actual = "reserve";
                    }
                    if (expected != null)
                    {
                        assertEquals(tryForm ? "null" : expected, actual, log.toString());
                        assertEquals(allocationsBefore, m.allocations);
                    }
                    else
                    {
                        assertNull(actual, log.toString());
                        assertEquals(expectedRef, ref, log.toString());
                        assertEquals((int)m.blocks.get(Arena.block(ref)), arena.buffer(ref).capacity(),
                            "capacity of the block the allocation landed in; " + log);
                    }
                }
                else if (op < 62)
                {
                    log.append("cp ");
                    final Cp cp = new Cp();
                    cp.checkpoint = r.nextInt(4) == 0 && !open.isEmpty() ?
                        open.get(open.size() - 1).checkpoint() : arena.checkpoint();
                    cp.position = cp.checkpoint == null ? 0 : cp.checkpoint.position;
                    if (cp.checkpoint != null && open.size() > 0 &&
                        cp.checkpoint.position != m.position())
                    {
                        // a transaction's checkpoint: its start
                        final long[] t = m.tx.get(m.tx.size() - 1);
                        assertEquals((t[0] << 32) | t[1], cp.position, log.toString());
                    }
                    cp.owner = open.isEmpty() ? null : open.get(open.size() - 1);
                    cps.add(cp);
                }
                else if (op < 72 && !cps.isEmpty())
                {
                    final Cp cp = cps.get(r.nextInt(cps.size()));
                    final Transaction innermost = open.isEmpty() ? null : open.get(open.size() - 1);
                    if (cp.owner != innermost)
                    {
                        continue;
                    }
                    log.append("rewind(").append(Long.toHexString(cp.position)).append(cp.valid ? "" : ",stale").append(") ");
                    if (cp.valid)
                    {
                        arena.rewind(cp.checkpoint);
                        if (cp.position < m.position())
                        {
                            m.moveTo(cp.position);
                            invalidateAbove(cps, cp.position);
                            vec[0] = null;
                        }
                    }
                    else
                    {
                        assertThrows(StaleHandleException.class, () -> arena.rewind(cp.checkpoint), log.toString());
                    }
                }
                else if (op < 75 && open.isEmpty())
                {
                    log.append("reset ");
                    arena.reset();
                    if (m.position() > 0)
                    {
                        m.moveTo(0);
                        invalidateAbove(cps, 0);
                        vec[0] = null;
                    }
                }
                else if (op < 85 && open.size() < 6)
                {
                    log.append("begin ");
                    final Transaction t = open.isEmpty() || r.nextBoolean() ? arena.transaction() :
                        open.get(open.size() - 1).savepoint();
                    open.add(t);
                    m.tx.add(new long[]{m.current, m.offset, m.used(), -1, m.allocations});
                    if (r.nextInt(3) == 0)
                    {
                        final long limit = r.nextInt(0, 4 * initial);
                        log.append("limit(").append(limit).append(") ");
                        t.setLimit(limit);
                        m.tx.get(m.tx.size() - 1)[3] = limit;
                    }
                }
                else if (op < 88 && !open.isEmpty())
                {
                    final int d = r.nextInt(open.size());
                    final long limit = r.nextInt(0, 4 * initial);
                    log.append("limit@").append(d + 1).append('(').append(limit).append(") ");
                    open.get(d).setLimit(limit);
                    m.tx.get(d)[3] = limit;
                }
                else if (op < 94 && !open.isEmpty())
                {
                    log.append("commit ");
                    open.remove(open.size() - 1).commit();
                    m.tx.remove(m.tx.size() - 1);
                    // checkpoints owned by the committed transaction now belong to its parent's scope: keep them
                    // out of rewinds (their clocks may predate the parent's savepoint rules)
                    for (final Cp cp : cps)
                    {
                        if (cp.owner != null && !open.contains(cp.owner))
                        {
                            cp.owner = NO_OWNER;
                        }
                    }
                }
                else if (!open.isEmpty())
                {
                    final int d = r.nextInt(open.size());
                    log.append("rollback@").append(d + 1).append(' ');
                    if (r.nextBoolean())
                    {
                        open.get(d).rollback();
                    }
                    else
                    {
                        open.get(d).close();
                    }
                    final long[] t = m.tx.get(d);
                    final long start = (t[0] << 32) | t[1];
                    while (open.size() > d)
                    {
                        open.remove(open.size() - 1);
                        m.tx.remove(m.tx.size() - 1);
                    }
                    if (start < m.position())
                    {
                        m.moveTo(start);
                        invalidateAbove(cps, start);
                        vec[0] = null;
                    }
                    for (final Cp cp : cps)
                    {
                        if (cp.owner != null && !open.contains(cp.owner))
                        {
                            cp.owner = NO_OWNER;
                        }
                    }
                }
                final ArenaStats stats = arena.stats();
                assertEquals(m.used(), stats.bytesAllocated(), "bytes allocated; " + log);
                assertEquals(m.reserved, stats.bytesReserved(), "bytes reserved; " + log);
                assertEquals(m.blocks.size(), stats.blockCount(), "block count; " + log);
                assertTrue(stats.bytesReserved() <= maxReserved, log.toString());
                for (int d = 0; d < open.size(); d++)
                {
                    final long[] t = m.tx.get(d);
                    final Transaction handle = open.get(d);
                    assertEquals(m.used() - t[2], handle.bytesUsed(), "bytes used at depth " + (d + 1) + "; " + log);
                    assertEquals(m.used() - t[2], handle.diff().bytesAllocated(), "diff bytes; " + log);
                    assertEquals(m.allocations - t[4], handle.diff().allocationCount(), "diff count; " + log);
                    assertEquals(t[3] < 0 ? Arena.UNLIMITED : t[3], handle.limit(), "limit; " + log);
                    long end = Long.MAX_VALUE;
                    for (int e = 0; e <= d; e++)
                    {
                        final long[] u = m.tx.get(e);
                        if (u[3] >= 0)
                        {
                            end = Math.min(end, u[2] + u[3]);
                        }
                    }
                    assertEquals(end == Long.MAX_VALUE ? Arena.UNLIMITED : Math.max(0, end - m.used()),
                        handle.budgetRemaining(), "budget remaining at depth " + (d + 1) + "; " + log);
                }
            }
        }
    }

    private static final Transaction NO_OWNER = null;

    /** Runs a model step; returns the refusal it names ("budget", "reserve") or null. */
    private static String refusal(final Runnable step)
    {
        try
        {
            step.run();
            return null;
        }
        catch (final ModelRefusal ex)
        {
            return ex.getMessage();
        }
    }
}
