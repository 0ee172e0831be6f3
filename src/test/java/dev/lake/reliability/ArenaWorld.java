package dev.lake.reliability;

import dev.lake.linear.Arena;
import dev.lake.linear.ArenaStats;
import dev.lake.linear.BudgetExceededException;
import dev.lake.linear.Checkpoint;
import dev.lake.linear.Transaction;
import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * One {@link Arena} under test and its reference model, for {@link ArenaModelPropertyTest}: allocations (arena and
 * transaction, plain, try and zeroed forms, alignments past the 64-byte block alignment), checkpoints (own and of
 * another arena), rewinds, resets, transactions and savepoints as objects and as primitive tokens, budgets, cleanup
 * actions and close.
 *
 * <p>The model keeps a logical position (block index, offset) and the bytes allocated. It predicts the exact
 * reference of an allocation that fits the current block and the budget, and for one that does not, that it lands
 * at the start of the next block (after the padding that block's address needs) or is refused by the budget. A
 * checkpoint or allocation is valid exactly while no discarding rewind since it was made went below it (checked
 * against every rewind, brute force). Transactions are a stack of (start position, start bytes, own limit); cleanup
 * actions run newest first for exactly the rewinds the model says.
 */
final class ArenaWorld implements AutoCloseable
{
    static final int FIRST_BLOCK = 256;
    static final int MAX_BLOCK = 1024;

    static final List<Arena> OPEN = new ArrayList<>();

    final Arena arena;
    final Arena foreign;
    final Checkpoint foreignCheckpoint;
    final List<Mem> allocations = new ArrayList<>();
    final List<Cp> checkpoints = new ArrayList<>();
    final List<Tx> transactions = new ArrayList<>();
    final List<Tx> open = new ArrayList<>();
    final List<long[]> cuts = new ArrayList<>(); // {time, position}: every discarding rewind
    final List<long[]> cleanups = new ArrayList<>(); // {id, clock}: registered and not yet run
    final List<Integer> ran = new ArrayList<>(); // ids of cleanup actions in the order the arena ran them
    final List<Integer> expectedRuns = new ArrayList<>();
    long position; // block << 32 | offset
    long used;
    long clock;
    long time;
    int blocks = 1;
    long reserved;
    boolean closed;
    private byte nextPattern = 1;
    private int nextCleanup;

    private ArenaWorld()
    {
        arena = Arena.builder().initialBlockSize(FIRST_BLOCK).maxBlockSize(MAX_BLOCK).build();
        OPEN.add(arena);
        foreign = Arena.withCapacity(64);
        OPEN.add(foreign);
        foreignCheckpoint = foreign.checkpoint();
        reserved = arena.stats().bytesReserved();
    }

    static ArenaWorld open()
    {
        return new ArenaWorld();
    }

    static void closeAll()
    {
        OPEN.forEach(Arena::close);
        OPEN.clear();
    }

    /** Closes everything the run opened. */
    @Override
    public void close()
    {
        closeAll();
    }

    /** An allocation: its reference, bytes, pattern and where it ends. */
    static final class Mem
    {
        final long ref;
        final int size;
        final byte pattern;
        final long end;
        final long madeAt;

        Mem(final long ref, final int size, final byte pattern, final long madeAt)
        {
            this.ref = ref;
            this.size = size;
            this.pattern = pattern;
            this.end = ref + size;
            this.madeAt = madeAt;
        }
    }

    /** A checkpoint with the model's view of it. */
    static final class Cp
    {
        final Checkpoint real;
        final long position;
        final long used;
        final long clock;
        final long madeAt;

        Cp(final Checkpoint real, final long position, final long used, final long clock, final long madeAt)
        {
            this.real = real;
            this.position = position;
            this.used = used;
            this.clock = clock;
            this.madeAt = madeAt;
        }
    }

    /** A transaction (object or token) with its start and budget. */
    static final class Tx
    {
        final Transaction real;
        final long token;
        final int depth;
        final long start;
        final long startUsed;
        final long startClock;
        long limit = Arena.UNLIMITED;
        boolean committed;
        boolean closedHandle;

        Tx(final Transaction real, final long token, final int depth, final long start, final long startUsed,
            final long startClock)
        {
            this.real = real;
            this.token = token;
            this.depth = depth;
            this.start = start;
            this.startUsed = startUsed;
            this.startClock = startClock;
        }
    }

    // ------------------------------------------------------------------------------------------------- helpers

    private boolean valid(final long end, final long madeAt)
    {
        if (closed)
        {
            return false;
        }
        for (final long[] cut : cuts)
        {
            if (cut[0] > madeAt && cut[1] < end)
            {
                return false;
            }
        }
        return true;
    }

    private long budget()
    {
        long end = Long.MAX_VALUE;
        for (final Tx t : open)
        {
            if (t.limit != Arena.UNLIMITED)
            {
                end = Math.min(end, t.startUsed + t.limit);
            }
        }
        return end;
    }

    /** Moves the model back to {@code target} (a discarding rewind when below the position). */
    private void rewindTo(final long target, final long targetUsed, final long stamp)
    {
        for (int i = cleanups.size() - 1; i >= 0; i--)
        {
            if (cleanups.get(i)[1] > stamp)
            {
                expectedRuns.add((int)cleanups.get(i)[0]);
                cleanups.remove(i);
            }
        }
        if (target < position)
        {
            clock++;
            cuts.add(new long[]{++time, target});
            position = target;
            used = targetUsed;
        }
    }

    private static int block(final long position)
    {
        return (int)(position >>> 32);
    }

    private static int offset(final long position)
    {
        return (int)position;
    }

    private Tx innermost()
    {
        return open.isEmpty() ? null : open.get(open.size() - 1);
    }

    // ----------------------------------------------------------------------------------------------- operations

    /**
     * Allocates {@code size} bytes aligned to {@code alignment}: through the arena, or through transaction number
     * {@code via} of the world when {@code via >= 0}. Form 0 allocate, 1 tryAllocate, 2 allocateZeroed.
     */
    void allocate(final int via, final int size, final int alignment, final int form)
    {
        final Tx tx = via < 0 || transactions.isEmpty() ? null : transactions.get(via % transactions.size());
        if (closed)
        {
            assertThrows(IllegalStateException.class, () -> arena.allocate(size, alignment));
            return;
        }
        if (tx != null)
        {
            final boolean isOpen = open.contains(tx);
            if (!isOpen)
            {
                if (tx.real != null)
                {
                    assertThrows(StaleHandleException.class, () -> tx.real.allocate(size, alignment), "closed transaction");
                }
                return;
            }
            if (tx != innermost())
            {
                if (tx.real != null)
                {
                    final IllegalStateException ex = assertThrows(IllegalStateException.class,
                        () -> tx.real.allocate(size, alignment));
                    assertFalse(ex instanceof StaleHandleException, "not innermost is not stale: " + ex);
                }
                return;
            }
        }
        final UnsafeBuffer current = arena.currentBuffer();
        final long base = current.addressOffset();
        final int capacity = current.capacity();
        final int offset = offset(position);
        final long start = alignment <= 64 ? (offset + alignment - 1L) & -alignment :
            ((base + offset + alignment - 1) & -(long)alignment) - base;
        final long budget = budget();
        final boolean fitsBlock = start + size <= capacity;
        final long usedIfHere = used + (start + size - offset);
        final boolean useTx = tx != null && tx.real != null;
        if (fitsBlock && usedIfHere > budget || !fitsBlock && used + size > budget)
        {
            expectRefused(useTx ? tx.real : null, size, alignment, form);
            return;
        }
        final long ref;
        try
        {
            ref = call(useTx ? tx.real : null, size, alignment, form);
        }
        catch (final BudgetExceededException ex)
        {
            // a new block whose address needs padding may still exceed a budget the bare size fits
            assertFalse(fitsBlock, "refused although it fits the current block and the budget: " + ex);
            assertTrue(used + size + alignment > budget, "refused far below the budget: " + ex);
            return;
        }
        if (ref == Arena.NULL)
        {
            // the same case for the try form: only a new block's padding can push it over
            assertEquals(1, form, "only the try form returns NULL");
            assertFalse(fitsBlock, "try form refused although it fits the current block and the budget");
            assertTrue(used + size + alignment > budget, "try form refused far below the budget");
            return;
        }
        final long newUsed;
        if (fitsBlock)
        {
            assertEquals(((long)block(position) << 32) | start, ref, "reference in the current block");
            newUsed = usedIfHere;
        }
        else
        {
            assertEquals(block(position) + 1, Arena.block(ref), "an allocation that does not fit moves to the next block");
            final UnsafeBuffer next = arena.buffer(ref);
            final long address = next.addressOffset();
            final int padding = (int)(((address + alignment - 1) & -(long)alignment) - address);
            assertEquals(padding, Arena.offset(ref), "offset in the new block");
            assertTrue(next.capacity() >= padding + size);
            newUsed = used + padding + size;
            if (arena.blockCount() > blocks)
            {
                assertEquals(blocks + 1, arena.blockCount(), "one block at a time");
                blocks++;
                reserved += next.capacity();
                assertTrue(next.capacity() == size || next.capacity() >= FIRST_BLOCK, "block size " + next.capacity());
            }
        }
        position = ref + size;
        used = newUsed;
        final UnsafeBuffer buffer = arena.buffer(ref);
        final int at = Arena.offset(ref);
        if (alignment <= 4096)
        {
            assertEquals(0, (buffer.addressOffset() + at) & (alignment - 1), "alignment of the absolute address");
        }
        if (form == 2)
        {
            for (int i = 0; i < size; i++)
            {
                assertEquals(0, buffer.getByte(at + i), "allocateZeroed reads zero");
            }
        }
        final Mem m = new Mem(ref, size, nextPattern, time);
        nextPattern = (byte)(nextPattern == 127 ? 1 : nextPattern + 1);
        buffer.setMemory(at, size, m.pattern);
        allocations.add(m);
    }

    private long call(final Transaction tx, final int size, final int alignment, final int form)
    {
        if (tx != null)
        {
            return form == 1 ? tx.tryAllocate(size, alignment) : form == 2 ? tx.allocateZeroed(size, alignment) :
                tx.allocate(size, alignment);
        }
        return form == 1 ? arena.tryAllocate(size, alignment) : form == 2 ? arena.allocateZeroed(size, alignment) :
            arena.allocate(size, alignment);
    }

    private void expectRefused(final Transaction tx, final int size, final int alignment, final int form)
    {
        final ArenaStats before = arena.stats();
        if (form == 1)
        {
            assertEquals(Arena.NULL, call(tx, size, alignment, form), "try form over the budget");
        }
        else
        {
            final BudgetExceededException ex = assertThrows(BudgetExceededException.class, () -> call(tx, size, alignment, form));
            assertTrue(ex.requested() >= size, "requested " + ex.requested());
        }
        assertEquals(before, arena.stats(), "a refused allocation changes nothing");
    }

    void checkpoint()
    {
        if (closed)
        {
            assertThrows(IllegalStateException.class, arena::checkpoint);
            return;
        }
        final Checkpoint cp = arena.checkpoint();
        assertEquals(block(position), cp.block());
        assertEquals(offset(position), cp.offset());
        checkpoints.add(new Cp(cp, position, used, clock, time));
    }

    /** Rewinds to checkpoint {@code which}: -1 the foreign arena's, -2 the innermost transaction's start. */
    void rewind(final int which)
    {
        if (which == -1)
        {
            assertThrows(IllegalArgumentException.class, () -> arena.rewind(foreignCheckpoint), "foreign checkpoint");
            return;
        }
        final Cp cp;
        if (which == -2)
        {
            final Tx tx = innermost();
            if (tx == null || tx.real == null)
            {
                return;
            }
            cp = new Cp(tx.real.checkpoint(), tx.start, tx.startUsed, tx.startClock, -1);
            assertEquals(block(tx.start), cp.real.block());
            assertEquals(offset(tx.start), cp.real.offset());
        }
        else
        {
            if (checkpoints.isEmpty())
            {
                return;
            }
            cp = checkpoints.get(which % checkpoints.size());
        }
        if (closed)
        {
            assertFalse(cp.real.isValid());
            assertThrows(IllegalStateException.class, () -> arena.rewind(cp.real));
            return;
        }
        final boolean valid = cp.madeAt < 0 || valid(cp.position, cp.madeAt);
        assertEquals(valid, cp.real.isValid(), "checkpoint validity");
        final Tx tx = innermost();
        if (!valid)
        {
            assertThrows(StaleHandleException.class, () -> arena.rewind(cp.real), "stale checkpoint");
        }
        else if (tx != null && (cp.position < tx.start || cp.clock < tx.startClock))
        {
            final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> arena.rewind(cp.real));
            assertFalse(ex instanceof StaleHandleException, "before the transaction is not stale: " + ex);
        }
        else
        {
            arena.rewind(cp.real);
            rewindTo(cp.position, cp.used, cp.clock);
        }
    }

    void reset()
    {
        if (closed)
        {
            assertThrows(IllegalStateException.class, arena::reset);
            return;
        }
        if (!open.isEmpty())
        {
            final IllegalStateException ex = assertThrows(IllegalStateException.class, arena::reset);
            assertFalse(ex instanceof StaleHandleException);
            return;
        }
        arena.reset();
        rewindTo(0, 0, -1);
    }

    /** Opens a transaction: through the arena ({@code from < 0}), as a savepoint of transaction {@code from}, or as a token. */
    void begin(final int from, final boolean token)
    {
        if (closed)
        {
            assertThrows(IllegalStateException.class, arena::transaction);
            return;
        }
        if (token)
        {
            final long t = arena.beginTransaction();
            final Tx tx = new Tx(null, t, open.size() + 1, position, used, clock);
            open.add(tx);
            transactions.add(tx);
            return;
        }
        final Transaction real;
        if (from >= 0 && !transactions.isEmpty())
        {
            final Tx parent = transactions.get(from % transactions.size());
            if (parent.real == null)
            {
                return;
            }
            if (!open.contains(parent))
            {
                assertThrows(StaleHandleException.class, parent.real::savepoint, "savepoint of a closed transaction");
                return;
            }
            if (parent != innermost())
            {
                final IllegalStateException ex = assertThrows(IllegalStateException.class, parent.real::savepoint);
                assertFalse(ex instanceof StaleHandleException);
                return;
            }
            real = parent.real.savepoint();
        }
        else
        {
            real = arena.transaction();
        }
        final Tx tx = new Tx(real, 0, open.size() + 1, position, used, clock);
        assertEquals(tx.depth, real.depth());
        open.add(tx);
        transactions.add(tx);
    }

    /** Ends transaction {@code which}: action 0 commit, 1 rollback (end for tokens), 2 close. */
    void end(final int which, final int action)
    {
        if (transactions.isEmpty())
        {
            return;
        }
        final Tx tx = transactions.get(which % transactions.size());
        final boolean isOpen = open.contains(tx);
        final boolean innermost = tx == innermost();
        if (tx.real == null)
        {
            if (action == 0)
            {
                if (!isOpen || closed)
                {
                    assertThrows(StaleHandleException.class, () -> arena.commitTransaction(tx.token));
                }
                else if (!innermost)
                {
                    final IllegalStateException ex = assertThrows(IllegalStateException.class,
                        () -> arena.commitTransaction(tx.token));
                    assertFalse(ex instanceof StaleHandleException);
                }
                else
                {
                    arena.commitTransaction(tx.token);
                    open.remove(tx);
                }
            }
            else
            {
                arena.endTransaction(tx.token);
                if (isOpen && !closed)
                {
                    rollBack(tx);
                }
            }
            return;
        }
        if (action == 2)
        {
            tx.real.close();
            if (!tx.committed && !tx.closedHandle && isOpen && !closed)
            {
                rollBack(tx);
            }
            if (!tx.committed)
            {
                tx.closedHandle = true;
            }
            return;
        }
        if (tx.committed)
        {
            final Runnable call = action == 0 ? tx.real::commit : tx.real::rollback;
            final IllegalStateException ex = assertThrows(IllegalStateException.class, call::run);
            assertFalse(ex instanceof StaleHandleException, "committed twice is not stale: " + ex);
            return;
        }
        if (!isOpen || closed)
        {
            assertThrows(StaleHandleException.class, action == 0 ? tx.real::commit : tx.real::rollback);
            return;
        }
        if (action == 0)
        {
            if (!innermost)
            {
                final IllegalStateException ex = assertThrows(IllegalStateException.class, tx.real::commit);
                assertFalse(ex instanceof StaleHandleException);
                return;
            }
            tx.real.commit();
            tx.committed = true;
            open.remove(tx);
        }
        else
        {
            tx.real.rollback();
            rollBack(tx);
            tx.closedHandle = true;
        }
    }

    private void rollBack(final Tx tx)
    {
        final int index = open.indexOf(tx);
        rewindTo(tx.start, tx.startUsed, tx.startClock);
        while (open.size() > index)
        {
            open.remove(open.size() - 1);
        }
    }

    void setLimit(final int which, final long limit)
    {
        if (transactions.isEmpty())
        {
            return;
        }
        final Tx tx = transactions.get(which % transactions.size());
        if (tx.real == null)
        {
            return;
        }
        if (limit < 0)
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> tx.real.setLimit(limit));
            assertTrue(ex.getMessage().contains(Long.toString(limit)), ex.getMessage());
            return;
        }
        if (!open.contains(tx) || closed)
        {
            assertThrows(StaleHandleException.class, () -> tx.real.setLimit(limit));
            return;
        }
        tx.real.setLimit(limit);
        tx.limit = limit;
    }

    void defer()
    {
        if (closed)
        {
            assertThrows(IllegalStateException.class, () -> arena.defer(() -> { }));
            return;
        }
        final int id = nextCleanup++;
        arena.defer(() -> ran.add(id));
        cleanups.add(new long[]{id, ++clock});
    }

    void closeArena()
    {
        arena.close();
        if (!closed)
        {
            rewindTo(-1, 0, -1); // every cleanup runs; position is gone
            closed = true;
            open.clear();
        }
    }

    // ------------------------------------------------------------------------------------------------- invariant

    void verify()
    {
        assertEquals(expectedRuns, ran, "cleanup actions ran exactly for the rewinds that freed them, newest first");
        if (closed)
        {
            assertEquals(new ArenaStats(0, 0, 0), arena.stats());
            assertTrue(arena.isClosed());
            for (final Mem m : allocations)
            {
                assertThrows(StaleHandleException.class, () -> arena.buffer(m.ref), "reference after close");
            }
            for (final Tx t : transactions)
            {
                if (t.real != null)
                {
                    assertFalse(t.real.isOpen());
                }
            }
            return;
        }
        assertEquals(used, arena.bytesAllocated(), "bytes allocated");
        assertEquals(new ArenaStats(used, reserved, blocks), arena.stats(), "stats");
        assertEquals(open.size(), arena.transactionDepth(), "transaction depth");
        final Checkpoint here = arena.checkpoint();
        assertEquals(position, ((long)here.block() << 32) | here.offset(), "position");
        for (final Tx t : transactions)
        {
            if (t.real == null)
            {
                continue;
            }
            final boolean isOpen = open.contains(t);
            assertEquals(isOpen, t.real.isOpen(), "transaction open");
            assertEquals(t.committed, t.real.isCommitted(), "transaction committed");
            if (isOpen)
            {
                assertEquals(used - t.startUsed, t.real.bytesUsed(), "transaction bytes used");
                assertEquals(used - t.startUsed, t.real.diff().bytesAllocated(), "diff bytes");
                assertEquals(t.limit, t.real.limit(), "own limit");
                long own = Long.MAX_VALUE;
                for (final Tx outer : open)
                {
                    if (outer.limit != Arena.UNLIMITED)
                    {
                        own = Math.min(own, outer.startUsed + outer.limit);
                    }
                    if (outer == t)
                    {
                        break;
                    }
                }
                assertEquals(own == Long.MAX_VALUE ? Arena.UNLIMITED : Math.max(0, own - used), t.real.budgetRemaining(),
                    "budget remaining");
            }
            else
            {
                assertThrows(StaleHandleException.class, t.real::bytesUsed, "bytesUsed of a closed transaction");
            }
        }
        for (final Mem m : allocations)
        {
            if (valid(m.end, m.madeAt))
            {
                final UnsafeBuffer buffer = arena.buffer(m.ref);
                final int at = Arena.offset(m.ref);
                for (int i = 0; i < m.size; i++)
                {
                    assertEquals(m.pattern, buffer.getByte(at + i), "byte " + i + " of a live allocation");
                }
            }
        }
        for (final Cp cp : checkpoints)
        {
            assertEquals(valid(cp.position, cp.madeAt), cp.real.isValid(), "checkpoint validity");
        }
    }
}
