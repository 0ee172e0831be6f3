package dev.lake.reliability;

import dev.lake.linear.Arena;
import dev.lake.linear.ArenaVec;
import dev.lake.linear.ArenaView;
import dev.lake.linear.BudgetExceededException;
import dev.lake.linear.Checkpoint;
import dev.lake.linear.Transaction;
import dev.lake.memory.StaleHandleException;
import dev.lake.testing.NativeAccounting;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Differential fuzz of the growable {@link Arena} (eighth review): raw allocations of varied sizes and alignments
 * across block growth, {@link ArenaVec.OfRecord} vectors that grow (in place and by moving) inside transactions that
 * roll back, {@code finish()} views, checkpoints (the arena's and transactions'), nested transactions and savepoints
 * as handles and tokens ended in random order (misuse included: out-of-order commits, use after end), budgets, and
 * cleanup actions some of which throw. After every step the arena is checked against a model whose staleness rule is
 * independent of the arena's cut stack: every discarding cut kills exactly the model objects that end above it. It
 * checks the bytes of every live allocation, vector and view, that every handle is valid exactly when the model
 * says, the bytes allocated (restored exactly by every rewind and rollback), the budget accounting, and the order
 * and failures of the cleanup actions.
 *
 * <p>Seeds: {@code -Dlake.arena8.seed=S} (default fixed) and {@code -Dlake.arena8.runs=N} sequences from it.
 */
class EighthArenaFuzzTest
{
    private static final long SEED = Long.getLong("lake.arena8.seed", 0x8E1A_2026_1206L);
    private static final int RUNS = Integer.getInteger("lake.arena8.runs", 300);
    private static final int STEPS = 200;

    /** How often each interesting event happened, printed so that a run shows what it covered. */
    static final java.util.TreeMap<String, Integer> SEEN = new java.util.TreeMap<>();

    static void seen(final String what)
    {
        SEEN.merge(what, 1, Integer::sum);
    }

    @Test
    void randomMixesMatchTheModel()
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        long steps = 0;
        SEEN.clear();
        for (int run = 0; run < RUNS; run++)
        {
            final long seed = SEED + run * 0x9E37_79B9_7F4A_7C15L;
            final World world = new World(seed);
            try
            {
                world.run();
                if (!world.closed)
                {
                    world.close(); // runs what cleanups are left, checked against the model
                }
            }
            catch (final Throwable ex)
            {
                throw new AssertionError("seed " + seed + " (-Dlake.arena8.seed=" + seed + " -Dlake.arena8.runs=1) " +
                    "failed at step " + world.step + "; last steps:\n" + world.tail(), ex);
            }
            finally
            {
                try
                {
                    world.arena.close(); // after a failure: free the blocks whatever the cleanups do
                }
                catch (final RuntimeException ignored)
                {
                    // a cleanup's failure, checked above when the run got there
                }
            }
            steps += world.step;
        }
        ModelTries.report("EighthArenaFuzzTest", RUNS, steps);
        System.out.println("EighthArenaFuzzTest events: " + SEEN);
        // what the default run covers (a short run from another seed may miss a rare one)
        for (final String what : RUNS < 300 ? new String[0] : new String[] {"budget refusal", "cleanup failure", "finish give-back", "new block",
            "vector killed", "view killed", "vector grew in place", "vector moved", "forEach action 0", "forEach action 6",
            "forEach action 7"})
        {
            assertTrue(SEEN.getOrDefault(what, 0) > 0, "the fuzz never saw: " + what);
        }
        baseline.assertBack("every block is freed by close");
    }

    /** Something that dies when a cut lies strictly below its end. */
    abstract static class Obj
    {
        long end;
        boolean dead;
    }

    static final class Alloc extends Obj
    {
        long ref;
        int size;
        byte seed;
    }

    static final class Cp extends Obj
    {
        Checkpoint cp;
        long ticks;
        long bytes;
        int cleanupMark;
    }

    static final class Vec extends Obj
    {
        ArenaVec.OfRecord vec;
        int recordSize;
        int capacity;
        final List<byte[]> records = new ArrayList<>();
        boolean finished;
    }

    static final class View extends Obj
    {
        ArenaView.OfRecord view;
        List<byte[]> records;
    }

    static final class Tx
    {
        Transaction handle;
        long token;
        long startPos;
        long startBytes;
        long startTicks;
        int cleanupMark;
        long limit = -1; // own limit, -1 none
        int state; // 0 open, 1 committed, 2 rolled back
    }

    static final class Cleanup
    {
        int id;
        RuntimeException failure;
    }

    static final class World
    {
        final SplittableRandom r;
        final Arena arena;
        final List<Obj> objects = new ArrayList<>();
        final List<Cp> cps = new ArrayList<>();
        final List<Vec> vecs = new ArrayList<>();
        final List<View> views = new ArrayList<>();
        final List<Tx> open = new ArrayList<>();
        final List<Tx> ended = new ArrayList<>();
        final List<Cleanup> cleanups = new ArrayList<>();
        final List<Integer> ran = new ArrayList<>();
        final List<String> log = new ArrayList<>();
        long ticks;
        int step;
        int nextCleanup;
        boolean closed;

        World(final long seed)
        {
            r = new SplittableRandom(seed);
            arena = Arena.builder().initialBlockSize(64 << r.nextInt(7)).maxBlockSize(256 << r.nextInt(6)).build();
        }

        String tail()
        {
            return String.join("\n", log.subList(Math.max(0, log.size() - 40), log.size()));
        }

        void run()
        {
            for (step = 0; step < STEPS && !closed; step++)
            {
                final int op = r.nextInt(100);
                if (op < 18) alloc();
                else if (op < 26) checkpoint();
                else if (op < 32) rewind();
                else if (op < 34) reset();
                else if (op < 42) begin();
                else if (op < 48) commit();
                else if (op < 54) rollback();
                else if (op < 57) setLimit();
                else if (op < 61) defer();
                else if (op < 65) newVec();
                else if (op < 82) vecOps();
                else if (op < 84) finish();
                else if (op < 90) forEachMutating();
                else if (op < 93) misuse();
                else if (op == 93 && r.nextInt(8) == 0) close();
                verify();
            }
        }

        long pos()
        {
            return arena.copyOf(new byte[0]);
        }

        long bytes()
        {
            return arena.stats().bytesAllocated();
        }

        void cut(final long p)
        {
            ticks++;
            for (final Obj o : objects)
            {
                if (!o.dead && p < o.end)
                {
                    seen(o instanceof Vec ? (((Vec)o).finished ? "finished vector" : "vector killed") :
                        o instanceof View ? "view killed" : o.getClass().getSimpleName() + " killed");
                    o.dead = true;
                }
            }
        }

        /** Effective budget end (absolute bytesAllocated) of the innermost open transaction, MAX when none. */
        long budgetEnd(final int depthIndex)
        {
            long end = Long.MAX_VALUE;
            for (int i = 0; i <= depthIndex && i < open.size(); i++)
            {
                final Tx t = open.get(i);
                if (t.limit >= 0)
                {
                    end = Math.min(end, t.startBytes + t.limit);
                }
            }
            return end;
        }

        long budgetEnd()
        {
            return budgetEnd(open.size() - 1);
        }

        /** Runs the model's cleanups registered at or after mark; returns the expected first failure. */
        RuntimeException expectCleanups(final int mark, final List<Integer> expectedRun)
        {
            RuntimeException first = null;
            while (!cleanups.isEmpty() && cleanups.get(cleanups.size() - 1).id >= mark)
            {
                final Cleanup c = cleanups.remove(cleanups.size() - 1);
                expectedRun.add(c.id);
                if (c.failure != null && first == null)
                {
                    first = c.failure;
                }
            }
            return first;
        }

        void runExpectingCleanups(final int mark, final Runnable action)
        {
            final List<Integer> expectedRun = new ArrayList<>();
            final RuntimeException expected = expectCleanups(mark, expectedRun);
            ran.clear();
            RuntimeException thrown = null;
            try
            {
                action.run();
            }
            catch (final RuntimeException ex)
            {
                thrown = ex;
            }
            assertEquals(expectedRun, ran, "cleanup actions run, newest first");
            assertSame(expected, thrown, "the first failing cleanup's exception reaches the caller");
            if (thrown != null)
            {
                seen("cleanup failure");
            }
        }

        void alloc()
        {
            final int size = 1 + r.nextInt(r.nextInt(8) == 0 ? 1500 : 120);
            final int alignment = 1 << r.nextInt(r.nextInt(6) == 0 ? 9 : 5);
            final int how = r.nextInt(5);
            final Tx inner = open.isEmpty() ? null : open.get(open.size() - 1);
            final long before = bytes();
            final long pos0 = pos();
            final long end = budgetEnd();
            log.add(step + ": alloc " + size + " align " + alignment + " how " + how + " bytes " + before + " end " + end);
            long ref;
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
                else if (how == 2 && inner != null && inner.handle != null)
                {
                    ref = inner.handle.allocate(size, alignment);
                }
                else if (how == 3 && inner != null && inner.handle != null)
                {
                    ref = inner.handle.tryAllocate(size, alignment);
                }
                else
                {
                    ref = arena.allocateZeroed(size, alignment);
                    for (int i = 0; i < size; i++)
                    {
                        assertEquals(0, arena.buffer(ref).getByte(Arena.offset(ref) + i), "allocateZeroed reads 0");
                    }
                }
            }
            catch (final BudgetExceededException ex)
            {
                ref = Arena.NULL;
            }
            if (ref == Arena.NULL)
            {
                seen("budget refusal");
                assertTrue(before + size > end - (alignment - 1), "refused though the budget had room: " + before +
                    " + " + size + " (align " + alignment + ") within " + end);
                assertEquals(before, bytes(), "a refusal allocates nothing");
                assertEquals(pos0, pos(), "a refusal moves nothing");
                return;
            }
            final long after = bytes();
            if (Arena.block(ref) != Arena.block(pos0))
            {
                seen("new block");
            }
            assertTrue(after <= end, "allocated past the budget: " + after + " > " + end);
            assertTrue(after - before >= size && after - before <= size + alignment - 1,
                "bytes allocated " + (after - before) + " for " + size + " aligned " + alignment);
            final UnsafeBuffer buffer = arena.buffer(ref);
            assertEquals(0, (buffer.addressOffset() + Arena.offset(ref)) & (alignment - 1), "alignment");
            final Alloc a = new Alloc();
            a.ref = ref;
            a.size = size;
            a.seed = (byte)r.nextInt();
            a.end = ref + size;
            assertEquals(a.end, pos(), "an allocation ends at the position");
            for (int i = 0; i < size; i++)
            {
                buffer.putByte(Arena.offset(ref) + i, (byte)(a.seed + i));
            }
            objects.add(a);
        }

        void checkpoint()
        {
            final Cp c = new Cp();
            if (!open.isEmpty() && r.nextInt(3) == 0)
            {
                final Tx t = open.get(r.nextInt(open.size()));
                if (t.handle == null)
                {
                    return;
                }
                c.cp = t.handle.checkpoint();
                c.ticks = t.startTicks;
                c.bytes = t.startBytes;
                c.cleanupMark = t.cleanupMark;
                c.end = t.startPos;
                log.add(step + ": tx checkpoint at " + Long.toHexString(c.end));
            }
            else
            {
                c.cp = arena.checkpoint();
                c.ticks = ticks;
                c.bytes = bytes();
                c.cleanupMark = nextCleanup;
                c.end = pos();
                log.add(step + ": checkpoint at " + Long.toHexString(c.end));
            }
            assertEquals(c.end, ((long)c.cp.block() << 32) | (c.cp.offset() & 0xFFFF_FFFFL), "checkpoint position");
            cps.add(c);
            objects.add(c);
        }

        void rewind()
        {
            if (cps.isEmpty())
            {
                return;
            }
            final Cp c = cps.get(r.nextInt(cps.size()));
            log.add(step + ": rewind to " + Long.toHexString(c.end) + (c.dead ? " (dead)" : ""));
            if (c.dead)
            {
                assertThrows(StaleHandleException.class, () -> arena.rewind(c.cp));
                return;
            }
            if (!open.isEmpty())
            {
                final Tx t = open.get(open.size() - 1);
                if (c.end < t.startPos || c.ticks < t.startTicks)
                {
                    final long b = bytes();
                    assertThrows(IllegalStateException.class, () -> arena.rewind(c.cp));
                    assertEquals(b, bytes());
                    return;
                }
            }
            final long p = pos();
            runExpectingCleanups(c.cleanupMark, () -> arena.rewind(c.cp));
            if (c.end < p)
            {
                cut(c.end);
            }
            assertEquals(c.end, pos(), "rewound to the checkpoint");
            assertEquals(c.bytes, bytes(), "a rewind restores the bytes allocated when the checkpoint was taken");
        }

        void reset()
        {
            log.add(step + ": reset");
            if (!open.isEmpty())
            {
                assertThrows(IllegalStateException.class, arena::reset);
                return;
            }
            final long p = pos();
            runExpectingCleanups(0, arena::reset);
            if (p != 0)
            {
                cut(0);
            }
            assertEquals(0, bytes());
        }

        void begin()
        {
            final Tx t = new Tx();
            t.startPos = pos();
            t.startBytes = bytes();
            t.cleanupMark = nextCleanup;
            final int how = r.nextInt(3);
            if (how == 0)
            {
                t.handle = arena.transaction();
            }
            else if (how == 1 && !open.isEmpty() && open.get(open.size() - 1).handle != null)
            {
                t.handle = open.get(open.size() - 1).handle.savepoint();
            }
            else
            {
                t.token = arena.beginTransaction();
            }
            t.startTicks = ticks;
            open.add(t);
            log.add(step + ": begin depth " + open.size() + (t.handle == null ? " token" : " handle"));
            assertEquals(open.size(), arena.transactionDepth());
        }

        Tx anyTx()
        {
            final int n = open.size() + ended.size();
            if (n == 0)
            {
                return null;
            }
            final int i = r.nextInt(n);
            return i < open.size() ? open.get(i) : ended.get(i - open.size());
        }

        void commit()
        {
            final Tx t = anyTx();
            if (t == null)
            {
                return;
            }
            final int index = open.indexOf(t);
            log.add(step + ": commit tx " + (index < 0 ? "ended" : "depth " + (index + 1)));
            final Runnable call = t.handle != null ? t.handle::commit : () -> arena.commitTransaction(t.token);
            if (index < 0)
            {
                if (t.handle != null && t.state == 1)
                {
                    assertThrows(IllegalStateException.class, call::run);
                }
                else
                {
                    assertThrows(StaleHandleException.class, call::run);
                }
                return;
            }
            if (index != open.size() - 1)
            {
                assertThrows(IllegalStateException.class, call::run, "commit with a savepoint open inside");
                return;
            }
            call.run();
            t.state = 1;
            open.remove(index);
            ended.add(t);
        }

        void rollback()
        {
            final Tx t = anyTx();
            if (t == null)
            {
                return;
            }
            final int index = open.indexOf(t);
            final int how = r.nextInt(2); // 0 rollback()/endTransaction, 1 close()
            log.add(step + ": rollback tx " + (index < 0 ? "ended" : "depth " + (index + 1)) + " how " + how);
            final Runnable call = t.handle == null ? () -> arena.endTransaction(t.token) :
                how == 0 ? t.handle::rollback : t.handle::close;
            if (index < 0)
            {
                if (t.handle != null && how == 0)
                {
                    final Class<? extends RuntimeException> type = t.state == 1 ? IllegalStateException.class :
                        StaleHandleException.class;
                    assertThrows(type, call::run);
                }
                else
                {
                    call.run(); // ends nothing
                }
                return;
            }
            final long p = pos();
            runExpectingCleanups(t.cleanupMark, call);
            if (t.startPos < p)
            {
                cut(t.startPos);
            }
            while (open.size() > index)
            {
                final Tx gone = open.remove(open.size() - 1);
                gone.state = 2;
                ended.add(gone);
            }
            assertEquals(t.startPos, pos(), "a rollback goes back to the transaction's start");
            assertEquals(t.startBytes, bytes(), "a rollback restores the bytes allocated");
            assertEquals(open.size(), arena.transactionDepth());
        }

        void setLimit()
        {
            final Tx t = anyTx();
            if (t == null || t.handle == null)
            {
                return;
            }
            final long limit = r.nextInt(10) == 0 ? -1 : r.nextInt(3000);
            log.add(step + ": setLimit " + limit + " on " + (open.contains(t) ? "open" : "ended"));
            if (limit < 0)
            {
                assertThrows(IllegalArgumentException.class, () -> t.handle.setLimit(limit));
                return;
            }
            if (!open.contains(t))
            {
                assertThrows(StaleHandleException.class, () -> t.handle.setLimit(limit));
                return;
            }
            t.handle.setLimit(limit);
            t.limit = limit;
        }

        void defer()
        {
            final Cleanup c = new Cleanup();
            c.id = nextCleanup++;
            if (r.nextInt(3) == 0)
            {
                c.failure = new IllegalStateException("cleanup " + c.id + " fails");
            }
            final Runnable action = () ->
            {
                ran.add(c.id);
                if (c.failure != null)
                {
                    throw c.failure;
                }
            };
            final Tx inner = open.isEmpty() ? null : open.get(open.size() - 1);
            if (inner != null && inner.handle != null && r.nextBoolean())
            {
                inner.handle.defer(action);
            }
            else
            {
                arena.defer(action);
            }
            ticks++;
            cleanups.add(c);
            log.add(step + ": defer " + c.id + (c.failure != null ? " (throws)" : ""));
        }

        void newVec()
        {
            final int recordSize = 1 + r.nextInt(r.nextBoolean() ? 8 : 40);
            final int capacity = r.nextInt(4) == 0 ? r.nextInt(6) : 0;
            final long before = bytes();
            log.add(step + ": new vec of " + recordSize + " B records, capacity " + capacity);
            final Vec v = new Vec();
            try
            {
                v.vec = ArenaVec.ofRecords(arena, recordSize, capacity);
            }
            catch (final BudgetExceededException ex)
            {
                assertTrue(before + (long)capacity * recordSize > budgetEnd() - 7, "refused within budget");
                assertEquals(before, bytes());
                return;
            }
            v.recordSize = recordSize;
            v.capacity = capacity;
            v.end = capacity > 0 ? pos() : Long.MIN_VALUE;
            vecs.add(v);
            objects.add(v);
        }

        Vec liveVec()
        {
            if (vecs.isEmpty())
            {
                return null;
            }
            return vecs.get(r.nextInt(vecs.size()));
        }

        /** A burst of operations on one vector, so that it is still the arena's last allocation when it grows. */
        void vecOps()
        {
            final int n = r.nextInt(4) == 0 ? 1 + r.nextInt(20) : 1;
            final Vec v = liveVec();
            for (int i = 0; i < n && v != null; i++)
            {
                vecOp(v);
            }
        }

        void vecOp(final Vec v)
        {
            final int op = r.nextInt(10);
            log.add(step + ": vec op " + op + " on " + v.records.size() + "/" + v.capacity + (v.dead ? " dead" : "") +
                (v.finished ? " finished" : ""));
            if (v.dead || v.finished)
            {
                assertThrows(StaleHandleException.class, () -> v.vec.size());
                assertThrows(StaleHandleException.class, () -> v.vec.pushZeroed());
                return;
            }
            final long before = bytes();
            final long end = budgetEnd();
            final int capBefore = v.capacity;
            try
            {
                if (op < 5)
                {
                    final byte[] record = new byte[v.recordSize];
                    for (int i = 0; i < record.length; i++)
                    {
                        record[i] = (byte)r.nextInt();
                    }
                    v.vec.push(new UnsafeBuffer(record), 0);
                    v.records.add(record);
                }
                else if (op == 5 && !v.records.isEmpty())
                {
                    v.vec.pop();
                    v.records.remove(v.records.size() - 1);
                }
                else if (op == 6 && !v.records.isEmpty())
                {
                    final int i = r.nextInt(v.records.size());
                    final byte[] record = new byte[v.recordSize];
                    Arrays.fill(record, (byte)r.nextInt());
                    v.vec.set(i, new UnsafeBuffer(record), 0);
                    v.records.set(i, record);
                }
                else if (op == 7)
                {
                    final int n = r.nextInt(v.records.size() + 1);
                    v.vec.truncate(n);
                    while (v.records.size() > n)
                    {
                        v.records.remove(v.records.size() - 1);
                    }
                }
                else if (op == 8)
                {
                    final int extra = r.nextInt(40);
                    if (r.nextBoolean())
                    {
                        v.vec.reserve(extra);
                    }
                    else if (!v.vec.tryReserve(extra))
                    {
                        throw new BudgetExceededException0();
                    }
                }
                else
                {
                    final int count = r.nextInt(5);
                    final byte[] src = new byte[count * v.recordSize];
                    for (int i = 0; i < src.length; i++)
                    {
                        src[i] = (byte)r.nextInt();
                    }
                    v.vec.addAll(new UnsafeBuffer(src), 0, count);
                    for (int i = 0; i < count; i++)
                    {
                        v.records.add(Arrays.copyOfRange(src, i * v.recordSize, (i + 1) * v.recordSize));
                    }
                }
            }
            catch (final BudgetExceededException | BudgetExceededException0 ex)
            {
                assertTrue(end != Long.MAX_VALUE, "refused without a budget");
                assertEquals(before, bytes(), "a refused growth allocates nothing");
                assertEquals(capBefore, v.vec.capacity(), "a refused growth leaves the capacity");
                assertEquals(v.records.size(), v.vec.size(), "a refused growth leaves the size");
                return;
            }
            final int cap = v.vec.capacity();
            if (cap != capBefore)
            {
                final long newEnd = pos();
                seen(capBefore > 0 && newEnd - (long)cap * v.recordSize == v.end - (long)capBefore * v.recordSize ?
                    "vector grew in place" : "vector moved");
                v.capacity = cap;
                v.end = newEnd; // a growth leaves the storage as the arena's last allocation
                assertTrue(bytes() <= end, "grew past the budget");
            }
        }

        /**
         * forEach over a vector whose action checks each record against the model, then changes things: pushes
         * (the vector may grow in place or move), pops, truncates, allocates from the arena (so that the vector is
         * no longer last), finishes the vector, or throws. The loop reads the size at every step, so the model runs
         * the same loop over its list.
         */
        void forEachMutating()
        {
            final Vec v = liveVec();
            if (v == null)
            {
                return;
            }
            log.add(step + ": forEach on " + v.records.size() + "/" + v.capacity + (v.dead ? " dead" : "") +
                (v.finished ? " finished" : ""));
            if (v.dead || v.finished)
            {
                assertThrows(StaleHandleException.class, () -> v.vec.forEach((b, o) -> fail("no record of a stale vector")));
                return;
            }
            final int[] visits = {0};
            final boolean[] expectStale = {false};
            final int mutations = r.nextInt(8);
            final RuntimeException planned = new IllegalStateException("the action fails");
            try
            {
                v.vec.forEach((buffer, offset) ->
                {
                    final int i = visits[0]++;
                    assertFalse(v.finished, "forEach went on after the action finished the vector");
                    final byte[] expected = v.records.get(i);
                    for (int j = 0; j < expected.length; j++)
                    {
                        if (buffer.getByte(offset + j) != expected[j])
                        {
                            fail("forEach record " + i + " byte " + j + " differs");
                        }
                    }
                    if (i >= mutations)
                    {
                        return;
                    }
                    final int what = r.nextInt(9);
                    seen("forEach action " + what);
                    log.add(step + ":   forEach action " + what + " at record " + i + " of " + v.records.size());
                    if (what <= 2)
                    {
                        final int capBefore = v.capacity;
                        final byte[] record = new byte[v.recordSize];
                        Arrays.fill(record, (byte)r.nextInt());
                        try
                        {
                            v.vec.push(new UnsafeBuffer(record), 0);
                        }
                        catch (final BudgetExceededException ex)
                        {
                            assertEquals(capBefore, v.vec.capacity());
                            return;
                        }
                        v.records.add(record);
                        final int cap = v.vec.capacity();
                        if (cap != capBefore)
                        {
                            v.capacity = cap;
                            v.end = pos();
                        }
                    }
                    else if (what == 3 && !v.records.isEmpty())
                    {
                        v.vec.pop();
                        v.records.remove(v.records.size() - 1);
                    }
                    else if (what == 4)
                    {
                        final int n = r.nextInt(v.records.size() + 1);
                        v.vec.truncate(n);
                        while (v.records.size() > n)
                        {
                            v.records.remove(v.records.size() - 1);
                        }
                    }
                    else if (what == 5)
                    {
                        alloc();
                    }
                    else if (what == 6)
                    {
                        expectStale[0] = i + 1 < v.records.size();
                        finish(v);
                    }
                    else if (what == 7)
                    {
                        throw planned;
                    }
                });
                assertFalse(expectStale[0], "forEach went on past a finish without a stale handle exception");
                if (!v.finished)
                {
                    assertTrue(visits[0] >= v.records.size(), "forEach stopped before the end: " + visits[0]);
                }
            }
            catch (final StaleHandleException ex)
            {
                assertTrue(expectStale[0], "forEach failed stale: " + ex);
            }
            catch (final IllegalStateException ex)
            {
                assertSame(planned, ex);
            }
        }

        /** A tryReserve refusal, told apart from success. */
        static final class BudgetExceededException0 extends RuntimeException
        {
            private static final long serialVersionUID = 1L;
        }

        void finish()
        {
            final Vec v = liveVec();
            if (v != null)
            {
                finish(v);
            }
        }

        void finish(final Vec v)
        {
            log.add(step + ": finish vec " + v.records.size() + "/" + v.capacity + (v.dead ? " dead" : "") +
                (v.finished ? " finished" : ""));
            if (v.dead || v.finished)
            {
                assertThrows(StaleHandleException.class, () -> v.vec.finish());
                return;
            }
            final long p = pos();
            final ArenaView.OfRecord view = v.vec.finish();
            v.finished = true;
            final long after = pos();
            final long dataStart = v.end - (long)v.capacity * v.recordSize;
            final long dataEnd = dataStart + (long)v.records.size() * v.recordSize;
            if (after != p)
            {
                assertTrue(after < p, "finish only gives back");
                assertEquals(p, v.end, "only the last allocation gives back its tail");
                assertTrue(after >= dataEnd, "finish gave back its own elements");
                for (final Obj o : objects)
                {
                    assertFalse(!o.dead && o != v && after < o.end, "finish's give-back killed a live " +
                        o.getClass().getSimpleName() + " ending at " + Long.toHexString(o.end));
                }
                for (final Tx t : open)
                {
                    assertTrue(after >= t.startPos, "finish gave back below an open transaction's start");
                }
                seen("finish give-back");
                cut(after);
            }
            final View w = new View();
            w.view = view;
            w.records = new ArrayList<>(v.records);
            w.end = w.records.isEmpty() ? Long.MIN_VALUE : dataEnd;
            views.add(w);
            objects.add(w);
        }

        void misuse()
        {
            final Tx t = anyTx();
            if (t == null || t.handle == null)
            {
                return;
            }
            final int index = open.indexOf(t);
            log.add(step + ": misuse on tx " + (index < 0 ? "ended" : "depth " + (index + 1)));
            if (index < 0)
            {
                assertThrows(StaleHandleException.class, () -> t.handle.allocate(8));
                assertThrows(StaleHandleException.class, t.handle::savepoint);
                assertThrows(StaleHandleException.class, t.handle::bytesUsed);
                assertFalse(t.handle.isOpen());
            }
            else if (index < open.size() - 1)
            {
                final long b = bytes();
                assertThrows(IllegalStateException.class, () -> t.handle.allocate(8));
                assertThrows(IllegalStateException.class, t.handle::savepoint);
                assertThrows(IllegalStateException.class, () -> t.handle.defer(() -> { }));
                assertEquals(b, bytes());
                assertEquals(open.size(), arena.transactionDepth());
            }
        }

        void close()
        {
            log.add(step + ": close");
            runExpectingCleanups(0, arena::close);
            closed = true;
            for (final Obj o : objects)
            {
                o.dead = true;
            }
            for (final Tx t : open)
            {
                if (t.handle != null)
                {
                    assertFalse(t.handle.isOpen());
                }
            }
            assertEquals(0, arena.stats().bytesAllocated());
            assertEquals(0, arena.stats().bytesReserved());
            for (final Vec v : vecs)
            {
                assertThrows(StaleHandleException.class, () -> v.vec.pushZeroed());
            }
            for (final View w : views)
            {
                assertFalse(w.view.isValid());
            }
            for (final Cp c : cps)
            {
                assertFalse(c.cp.isValid());
            }
        }

        void verify()
        {
            if (closed)
            {
                return;
            }
            final long bytes = bytes();
            for (final Obj o : objects)
            {
                if (o instanceof Alloc && !o.dead)
                {
                    final Alloc a = (Alloc)o;
                    final UnsafeBuffer buffer = arena.buffer(a.ref);
                    for (int i = 0; i < a.size; i++)
                    {
                        if (buffer.getByte(Arena.offset(a.ref) + i) != (byte)(a.seed + i))
                        {
                            fail("allocation at " + Long.toHexString(a.ref) + " of " + a.size + " B overwritten at " + i);
                        }
                    }
                }
            }
            for (final Cp c : cps)
            {
                assertEquals(!c.dead, c.cp.isValid(), "checkpoint at " + Long.toHexString(c.end) + " validity");
            }
            final UnsafeBuffer out = new UnsafeBuffer(new byte[64]);
            for (final Vec v : vecs)
            {
                if (v.finished)
                {
                    continue;
                }
                if (v.dead)
                {
                    assertThrows(StaleHandleException.class, () -> v.vec.size(), "a vector under a cut is stale");
                    continue;
                }
                assertEquals(v.records.size(), v.vec.size());
                assertEquals(v.capacity, v.vec.capacity());
                for (int i = 0; i < v.records.size(); i++)
                {
                    v.vec.get(i, out, 0);
                    for (int j = 0; j < v.recordSize; j++)
                    {
                        if (out.getByte(j) != v.records.get(i)[j])
                        {
                            fail("vector record " + i + " byte " + j + " differs");
                        }
                    }
                }
            }
            for (final View w : views)
            {
                assertEquals(!w.dead, w.view.isValid(), "view validity");
                if (w.dead)
                {
                    assertThrows(StaleHandleException.class, () -> w.view.size());
                    continue;
                }
                assertEquals(w.records.size(), w.view.size());
                for (int i = 0; i < w.records.size(); i++)
                {
                    w.view.get(i, out, 0);
                    for (int j = 0; j < w.view.elementSize(); j++)
                    {
                        if (out.getByte(j) != w.records.get(i)[j])
                        {
                            fail("view record " + i + " byte " + j + " differs");
                        }
                    }
                }
            }
            assertEquals(open.size(), arena.transactionDepth());
            for (int i = 0; i < open.size(); i++)
            {
                final Tx t = open.get(i);
                if (t.handle != null)
                {
                    assertTrue(t.handle.isOpen());
                    assertEquals(bytes - t.startBytes, t.handle.bytesUsed(), "bytesUsed of depth " + (i + 1));
                    final long end = budgetEnd(i);
                    assertEquals(end == Long.MAX_VALUE ? Arena.UNLIMITED : Math.max(0, end - bytes),
                        t.handle.budgetRemaining(), "budgetRemaining of depth " + (i + 1));
                    assertEquals(t.limit < 0 ? Arena.UNLIMITED : t.limit, t.handle.limit());
                }
            }
            for (final Tx t : ended)
            {
                if (t.handle != null)
                {
                    assertFalse(t.handle.isOpen());
                    assertEquals(t.state == 1, t.handle.isCommitted());
                }
            }
            final var stats = arena.stats();
            assertTrue(stats.bytesAllocated() <= stats.bytesReserved());
            assertEquals(stats.blockCount(), arena.blockCount());
        }
    }
}
