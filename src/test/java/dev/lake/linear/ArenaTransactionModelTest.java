package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Differential test of the Arena fast paths (buffer(ref) in one test, the first-block reset, the start cut kept outside the
 * cut stack, the guard byte, the one-compare innermost check) and of the lazily written budget slots
 * (budgetDepth): random sequences of transactions (objects and tokens, nested), limits set on any open depth at
 * any time, commits, rollbacks of inner and outer depths, checkpoints and rewinds, resets, cleanups and
 * allocations that move across blocks, checked step by step against a brute-force model:
 * <ul>
 *   <li>the budget end of depth d is the minimum over depths k <= d with a limit of (bytes at k's start + limit);
 *   an allocation fits exactly when the bytes after it are at most the innermost end, and a refusal names the
 *   outermost depth whose end is that minimum;</li>
 *   <li>a checkpoint or allocation is valid exactly when the position never went below its end since it was made;
 *   every valid allocation still holds its bytes, read through buffer(ref);</li>
 *   <li>a cleanup runs exactly once, when a rollback, rewind, reset or close passes below the clock it was
 *   registered at.</li>
 * </ul>
 * Sizes are multiples of 8 at alignment 8 on 64-aligned blocks, so bytesAllocated() is the position exactly.
 * Scale with -Dreview.seeds=N -Dreview.steps=M.
 */
class ArenaTransactionModelTest
{
    private static final int SEEDS = Integer.getInteger("review.seeds", 12);
    private static final int STEPS = Integer.getInteger("review.steps", 2_500);

    private static final class Tx
    {
        final Transaction handle; // null for a token
        final long token;
        final int depth;
        final long startUsed;
        final long seq;
        Long ownLimit;
        boolean committed;
        boolean rolledBack;

        Tx(final Transaction handle, final long token, final int depth, final long startUsed, final long seq)
        {
            this.handle = handle;
            this.token = token;
            this.depth = depth;
            this.startUsed = startUsed;
            this.seq = seq;
        }
    }

    private static final class Cp
    {
        final Checkpoint real;
        final long pos;
        final long seq;
        long minSince;

        Cp(final Checkpoint real, final long pos, final long seq, final long minSince)
        {
            this.real = real;
            this.pos = pos;
            this.seq = seq;
            this.minSince = minSince;
        }
    }

    private static final class Alloc
    {
        final long ref;
        final int size;
        final long end;
        final byte pattern;
        long minSince;

        Alloc(final long ref, final int size, final long end, final byte pattern)
        {
            this.ref = ref;
            this.size = size;
            this.end = end;
            this.pattern = pattern;
            this.minSince = end;
        }
    }

    private static final class Cleanup
    {
        final long seq;
        int ran;
        boolean due; // the model says it has run

        Cleanup(final long seq)
        {
            this.seq = seq;
        }
    }

    private static final class Model
    {
        final Arena arena;
        final Random random;
        long used;
        long counter;
        final List<Tx> open = new ArrayList<>();
        final List<Tx> all = new ArrayList<>();
        final List<Cp> checkpoints = new ArrayList<>();
        final List<Alloc> allocs = new ArrayList<>();
        final List<Cleanup> cleanups = new ArrayList<>();
        byte nextPattern = 1;
        String where = "";

        Model(final Arena arena, final Random random)
        {
            this.arena = arena;
            this.random = random;
        }

        long end(final int depth)
        {
            long end = Long.MAX_VALUE;
            for (int d = 1; d <= depth; d++)
            {
                final Tx t = open.get(d - 1);
                if (t.ownLimit != null)
                {
                    final long own = t.ownLimit >= Long.MAX_VALUE - t.startUsed ? Long.MAX_VALUE : t.startUsed + t.ownLimit;
                    end = Math.min(end, own);
                }
            }
            return end;
        }

        int owner()
        {
            final long e = end(open.size());
            int d = open.size();
            while (d > 0 && end(d - 1) == e)
            {
                d--;
            }
            return d;
        }

        void rewind(final long to, final long stamp)
        {
            for (final Cleanup c : cleanups)
            {
                if (!c.due && c.seq > stamp)
                {
                    c.due = true;
                }
            }
            assertTrue(to <= used, where);
            if (to < used)
            {
                counter++; // the arena's clock ticks on every cut
            }
            used = to;
            for (final Cp c : checkpoints)
            {
                c.minSince = Math.min(c.minSince, to);
            }
            for (final Alloc a : allocs)
            {
                a.minSince = Math.min(a.minSince, to);
            }
        }

        byte pattern()
        {
            byte p = nextPattern++;
            if (p == 0)
            {
                p = nextPattern++;
            }
            return p;
        }
    }

    @Test
    void randomTransactionsBudgetsAndRewindsMatchTheModel()
    {
        final int only = Integer.getInteger("review.seed", 0);
        for (int seed = only > 0 ? only : 1; seed <= (only > 0 ? only : SEEDS); seed++)
        {
            final Arena arena = Arena.builder().initialBlockSize(seed % 2 == 0 ? 1024 : 4096).maxBlockSize(16384).build();
            final Model m = new Model(arena, new Random(seed));
            try
            {
                for (int step = 0; step < STEPS; step++)
                {
                    m.where = "seed " + seed + " step " + step;
                    step(m, m.random.nextInt(20));
                    verify(m);
                }
            }
            finally
            {
                arena.close();
            }
            for (final Cleanup c : m.cleanups)
            {
                c.due = true;
            }
            checkCleanups(m);
            for (final Cp c : m.checkpoints)
            {
                assertFalse(c.real.isValid(), m.where);
            }
        }
    }

    private static void step(final Model m, final int op)
    {
        final Arena arena = m.arena;
        final Random random = m.random;
        final String where = m.where + " op " + op;
        final Tx innermost = m.open.isEmpty() ? null : m.open.get(m.open.size() - 1);
        switch (op)
        {
            case 0, 1 -> // open a transaction or savepoint
            {
                final int depth = m.open.size() + 1;
                final Tx t;
                if (random.nextBoolean())
                {
                    final Transaction h = innermost != null && innermost.handle != null && random.nextBoolean() ?
                        innermost.handle.savepoint() : arena.transaction();
                    assertEquals(depth, h.depth(), where);
                    t = new Tx(h, 0, depth, m.used, m.counter);
                }
                else
                {
                    t = new Tx(null, arena.beginTransaction(), depth, m.used, m.counter);
                }
                m.open.add(t);
                m.all.add(t);
            }
            case 2, 3, 4 -> // allocate through the arena, try form
            {
                final int size = size(random);
                final long ref = arena.tryAllocate(size, 8);
                final boolean fits = m.used + size <= m.end(m.open.size());
                assertEquals(fits, ref != Arena.NULL, where + " size " + size + " used " + m.used + " end " +
                    m.end(m.open.size()));
                if (fits)
                {
                    allocated(m, ref, size);
                }
            }
            case 5 -> // allocate through the arena, throwing form
            {
                final int size = size(random);
                if (m.used + size <= m.end(m.open.size()))
                {
                    allocated(m, arena.allocate(size, 8), size);
                }
                else
                {
                    final BudgetExceededException ex =
                        assertThrows(BudgetExceededException.class, () -> arena.allocate(size, 8), where);
                    final int owner = m.owner();
                    assertEquals(owner, ex.depth(), where + " " + ex.getMessage());
                    assertEquals(m.open.get(owner - 1).ownLimit, ex.limit(), where);
                    assertEquals(m.used - m.open.get(owner - 1).startUsed, ex.used(), where);
                    assertEquals(size, ex.requested(), where);
                }
            }
            case 6 -> // allocate through a transaction handle: only the innermost may
            {
                final Tx t = pickHandle(m, false);
                if (t == null)
                {
                    return;
                }
                final int size = size(random);
                if (t != innermost)
                {
                    assertThrows(IllegalStateException.class, () -> t.handle.tryAllocate(size, 8), where);
                }
                else
                {
                    final long ref = t.handle.tryAllocate(size, 8);
                    final boolean fits = m.used + size <= m.end(m.open.size());
                    assertEquals(fits, ref != Arena.NULL, where);
                    if (fits)
                    {
                        allocated(m, ref, size);
                    }
                }
            }
            case 7, 8 -> // set a limit on any transaction handle, open or not
            {
                final Tx t = pickHandle(m, true);
                if (t == null)
                {
                    return;
                }
                final long limit = switch (random.nextInt(5))
                {
                    case 0 -> 0;
                    case 1 -> Long.MAX_VALUE - random.nextInt(1000);
                    case 2 -> Math.max(0, m.used - t.startUsed) + 8L * random.nextInt(4);
                    default -> 8L * random.nextInt(1200);
                };
                if (m.open.contains(t))
                {
                    t.handle.setLimit(limit);
                    t.ownLimit = limit;
                }
                else
                {
                    assertThrows(StaleHandleException.class, () -> t.handle.setLimit(limit), where);
                }
            }
            case 9, 10 -> commit(m, pickAny(m), where);
            case 11, 12 -> end(m, pickAny(m), random.nextBoolean(), where);
            case 13 ->
            {
                final Checkpoint c = arena.checkpoint();
                m.checkpoints.add(new Cp(c, m.used, m.counter, m.used));
            }
            case 14 -> // a transaction's own start checkpoint
            {
                final Tx t = pickHandle(m, true);
                if (t != null && m.open.contains(t))
                {
                    m.checkpoints.add(new Cp(t.handle.checkpoint(), t.startUsed, t.seq, t.startUsed));
                }
            }
            case 15, 16 ->
            {
                if (m.checkpoints.isEmpty())
                {
                    return;
                }
                final Cp c = random.nextBoolean() ? m.checkpoints.get(m.checkpoints.size() - 1) :
                    m.checkpoints.get(random.nextInt(m.checkpoints.size()));
                if (c.minSince < c.pos)
                {
                    assertThrows(StaleHandleException.class, () -> arena.rewind(c.real), where);
                }
                else if (innermost != null && (c.pos < innermost.startUsed || c.seq < innermost.seq))
                {
                    final IllegalStateException ex =
                        assertThrows(IllegalStateException.class, () -> arena.rewind(c.real), where);
                    assertFalse(ex instanceof StaleHandleException, where);
                }
                else
                {
                    arena.rewind(c.real);
                    m.rewind(c.pos, c.seq);
                }
            }
            case 17 ->
            {
                if (!m.open.isEmpty())
                {
                    assertThrows(IllegalStateException.class, arena::reset, where);
                }
                else if (random.nextInt(3) == 0)
                {
                    arena.reset();
                    m.rewind(0, -1);
                }
            }
            case 18 ->
            {
                final Cleanup c = new Cleanup(++m.counter);
                m.cleanups.add(c);
                if (innermost != null && innermost.handle != null && random.nextBoolean())
                {
                    innermost.handle.defer(() -> c.ran++);
                }
                else
                {
                    arena.defer(() -> c.ran++);
                }
            }
            case 19 -> // a reference of any allocation: buffer(ref) gives the right block or refuses
            {
                if (m.allocs.isEmpty())
                {
                    return;
                }
                final Alloc a = m.allocs.get(random.nextInt(m.allocs.size()));
                final int current = arena.checkpoint().block();
                if (Arena.block(a.ref) > current)
                {
                    assertThrows(StaleHandleException.class, () -> arena.buffer(a.ref), where);
                }
                else if (a.minSince >= a.end)
                {
                    assertNotNull(arena.buffer(a.ref), where); // live: always its block
                }
                else
                {
                    // rewound past: refused when its start lies past the part of its block in use; where memory
                    // was handed out again over it, the block at its index, which always contains its start
                    try
                    {
                        assertTrue(Arena.offset(a.ref) <= arena.buffer(a.ref).capacity(), where);
                    }
                    catch (final StaleHandleException refused)
                    {
                        assertTrue(refused.getMessage().contains("rewound past"), where);
                    }
                }
            }
            default -> fail("op " + op);
        }
    }

    private static int size(final Random random)
    {
        return 8 * (random.nextInt(10) == 0 ? 100 + random.nextInt(400) : 1 + random.nextInt(24));
    }

    private static void allocated(final Model m, final long ref, final int size)
    {
        final Alloc a = new Alloc(ref, size, m.used + size, m.pattern());
        m.used += size;
        final UnsafeBuffer b = m.arena.buffer(ref);
        b.setMemory(Arena.offset(ref), size, a.pattern);
        m.allocs.add(a);
        for (final Alloc other : m.allocs)
        {
            if (other.minSince >= other.end)
            {
                // nothing valid may lie above the position
                assertTrue(other.end <= m.used, m.where);
            }
        }
    }

    private static void commit(final Model m, final Tx t, final String where)
    {
        if (t == null)
        {
            return;
        }
        final boolean open = m.open.contains(t);
        final boolean innermost = open && m.open.get(m.open.size() - 1) == t;
        if (t.handle != null && t.committed)
        {
            assertThrows(IllegalStateException.class, t.handle::commit, where);
            return;
        }
        final Runnable commit = t.handle != null ? t.handle::commit : () -> m.arena.commitTransaction(t.token);
        if (!open)
        {
            assertThrows(StaleHandleException.class, commit::run, where);
        }
        else if (!innermost)
        {
            final IllegalStateException ex = assertThrows(IllegalStateException.class, commit::run, where);
            assertFalse(ex instanceof StaleHandleException, where);
        }
        else
        {
            commit.run();
            m.open.remove(t);
            t.committed = true;
        }
    }

    private static void end(final Model m, final Tx t, final boolean explicitRollback, final String where)
    {
        if (t == null)
        {
            return;
        }
        final boolean open = m.open.contains(t);
        if (t.handle != null && explicitRollback)
        {
            if (t.committed)
            {
                assertThrows(IllegalStateException.class, t.handle::rollback, where);
                return;
            }
            if (!open)
            {
                assertThrows(StaleHandleException.class, t.handle::rollback, where);
                return;
            }
            t.handle.rollback();
        }
        else if (t.handle != null)
        {
            t.handle.close();
        }
        else
        {
            m.arena.endTransaction(t.token);
        }
        if (open)
        {
            final int i = m.open.indexOf(t);
            while (m.open.size() > i)
            {
                m.open.remove(m.open.size() - 1).rolledBack = true;
            }
            m.rewind(t.startUsed, t.seq);
        }
    }

    private static Tx pickAny(final Model m)
    {
        if (m.all.isEmpty())
        {
            return null;
        }
        if (!m.open.isEmpty() && m.random.nextInt(3) != 0)
        {
            return m.open.get(m.open.size() - 1 - (m.random.nextInt(4) == 0 ? m.random.nextInt(m.open.size()) : 0));
        }
        return m.all.get(Math.max(0, m.all.size() - 1 - m.random.nextInt(Math.min(m.all.size(), 20))));
    }

    private static Tx pickHandle(final Model m, final boolean anyDepth)
    {
        final List<Tx> candidates = new ArrayList<>();
        for (final Tx t : m.open)
        {
            if (t.handle != null)
            {
                candidates.add(t);
            }
        }
        if (anyDepth && m.random.nextInt(5) == 0)
        {
            for (int i = Math.max(0, m.all.size() - 10); i < m.all.size(); i++)
            {
                if (m.all.get(i).handle != null && !m.open.contains(m.all.get(i)))
                {
                    candidates.add(m.all.get(i));
                }
            }
        }
        return candidates.isEmpty() ? null : candidates.get(m.random.nextInt(candidates.size()));
    }

    private static void checkCleanups(final Model m)
    {
        for (final Cleanup c : m.cleanups)
        {
            assertEquals(c.due ? 1 : 0, c.ran, m.where + " cleanup registered at " + c.seq);
        }
    }

    private static void verify(final Model m)
    {
        final Arena arena = m.arena;
        final String where = m.where;
        assertEquals(m.open.size(), arena.transactionDepth(), where);
        assertEquals(m.used, arena.bytesAllocated(), where);
        checkCleanups(m);
        for (final Tx t : m.all)
        {
            if (t.handle == null)
            {
                continue;
            }
            final boolean open = m.open.contains(t);
            assertEquals(open, t.handle.isOpen(), where);
            if (open)
            {
                final long end = m.end(t.depth);
                assertEquals(t.ownLimit == null || t.ownLimit == Long.MAX_VALUE ? Arena.UNLIMITED : t.ownLimit,
                    t.handle.limit(), where + " depth " + t.depth);
                assertEquals(end == Long.MAX_VALUE ? Arena.UNLIMITED : Math.max(0, end - m.used),
                    t.handle.budgetRemaining(), where + " depth " + t.depth);
                assertEquals(m.used - t.startUsed, t.handle.bytesUsed(), where);
            }
            else
            {
                assertThrows(StaleHandleException.class, t.handle::limit, where);
                assertThrows(StaleHandleException.class, t.handle::budgetRemaining, where);
            }
        }
        for (final Cp c : m.checkpoints)
        {
            assertEquals(c.minSince >= c.pos, c.real.isValid(), where + " checkpoint at " + c.pos);
        }
        for (final Alloc a : m.allocs)
        {
            if (a.minSince >= a.end)
            {
                final UnsafeBuffer b = arena.buffer(a.ref);
                assertEquals(a.pattern, b.getByte(Arena.offset(a.ref)), where);
                assertEquals(a.pattern, b.getByte(Arena.offset(a.ref) + a.size - 1), where);
            }
        }
    }
}
