package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A scope over an {@link Arena} whose allocations are kept on {@link #commit()} and freed on
 * {@link #rollback()} or on {@link #close()} without commit:
 * <pre>{@code
 * try (Transaction tx = arena.transaction())
 * {
 *     long ref = tx.allocate(64, 8);
 *     ...
 *     tx.commit();
 * } // not committed: rolled back here, cleanup actions registered inside run
 * }</pre>
 *
 * <h2>Nesting</h2>
 * {@link #savepoint()} opens a transaction nested inside this one, to any depth; each is committed or rolled
 * back on its own. Rolling back an inner transaction leaves the outer one's work intact; rolling back an outer
 * one discards everything inside it, committed savepoints included. Only the innermost open transaction may
 * allocate, commit or open a savepoint (the others are blocked while a savepoint is open inside them, and
 * throw {@link IllegalStateException}); allocations made directly on the arena belong to the innermost open
 * transaction. Closing or rolling back an outer transaction while a savepoint inside it is still open rolls
 * the savepoint back first, then the outer one, as closing them in turn would: each one's cleanup actions run
 * while it is the innermost open transaction, under its own budget. Committing it then is refused instead.
 *
 * <h2>Budgets</h2>
 * {@link #setLimit(long)} caps the bytes this transaction may allocate, alignment padding included (it is
 * memory the request used; the idle tail of a block the arena moved away from is not counted). Savepoints
 * inherit the budget of the transaction they are opened in (a savepoint's own limit can only narrow it).
 * A request that would exceed it throws {@link BudgetExceededException} and the {@code try} forms return
 * {@link Arena#NULL}; nothing is allocated. The check is folded into the arena's fast-path limit: free.
 *
 * <h2>Handles</h2>
 * A transaction is a small handle: its state lives in the arena, so opening one costs one small object
 * (often removed by escape analysis) and no search. Once committed, rolled back (also by an outer rollback)
 * or closed, every use except {@link #close()}, {@link #buffer(long)} (a reference the transaction kept stays
 * readable after its commit; it checks the reference, not the transaction) and the status queries throws
 * {@link StaleHandleException}, but {@link #commit()} and {@link #rollback()} after a commit throw
 * {@link IllegalStateException}. From a cleanup action, a transaction can be neither committed, rolled back,
 * closed, nested nor given another cleanup ({@link IllegalStateException}). Not thread-safe, like its arena.
 */
public final class Transaction implements AutoCloseable
{
    private static final byte OPEN = 0;
    private static final byte COMMITTED = 1;
    private static final byte ROLLED_BACK = 2;

    private final Arena arena;
    private final int depth;
    private final long serial;
    private byte state = OPEN;

    Transaction(final Arena arena, final int depth, final long serial)
    {
        this.arena = arena;
        this.depth = depth;
        this.serial = serial;
    }

    /**
     * Keeps every allocation made in this transaction; they become part of the enclosing transaction (or of
     * the arena). O(1).
     *
     * @throws IllegalStateException if already committed, a savepoint inside is still open, or called from a
     *                               cleanup action (nothing changes then).
     * @throws StaleHandleException  if the transaction was rolled back or the arena closed.
     */
    public void commit()
    {
        if (state == COMMITTED)
        {
            throw new IllegalStateException("transaction at depth " + depth + " is already committed");
        }
        arena.commit(depth, serial);
        state = COMMITTED;
    }

    /**
     * Frees every allocation made in this transaction (savepoints still open inside it first) and runs the
     * cleanup actions registered in it, newest first. O(1) per savepoint still open inside, plus the actions.
     *
     * @throws IllegalStateException if already committed, or called from a cleanup action.
     * @throws StaleHandleException  if already rolled back (also by an outer rollback) or the arena closed.
     * @throws RuntimeException      the first failure of a cleanup action, after the rollback completed.
     */
    public void rollback()
    {
        if (state == COMMITTED)
        {
            throw new IllegalStateException("transaction at depth " + depth + " is committed; it cannot roll back");
        }
        arena.rollback(depth, serial);
        state = ROLLED_BACK;
    }

    /**
     * Rolls back unless committed; does nothing if already committed, rolled back (also by an outer
     * rollback) or if the arena is closed. Savepoints still open inside are rolled back first.
     *
     * @throws IllegalStateException if called from a cleanup action while the transaction is open (nothing changes;
     *                               it stays open, to close again).
     * @throws RuntimeException      the first failure of a cleanup action, after the rollback completed.
     */
    @Override
    public void close()
    {
        if (state != OPEN)
        {
            return;
        }
        try
        {
            if (arena.isOpen(depth, serial) && !arena.isClosed())
            {
                arena.rollback(depth, serial);
            }
        }
        finally
        {
            // only once the arena agrees: a refused rollback (from a cleanup action) leaves it open, to close again
            if (arena.isClosed() || !arena.isOpen(depth, serial))
            {
                state = ROLLED_BACK;
            }
        }
    }

    /**
     * Opens a savepoint: a transaction nested in this one, committed or rolled back on its own.
     *
     * @return the savepoint, at depth {@code depth() + 1}; it inherits this transaction's budget.
     * @throws StaleHandleException  if this transaction is closed (committed, rolled back, or its arena closed).
     * @throws IllegalStateException if a savepoint is already open inside this one, or called from a cleanup
     *                               action.
     * @throws OutOfMemoryError      if the heap refuses the handle; no savepoint is opened then.
     */
    public Transaction savepoint()
    {
        return new Transaction(arena, depth + 1, arena.begin(depth, serial));
    }

    /**
     * @return whether {@link #commit()} succeeded on this transaction (it stays true after an outer rollback
     * discarded the work).
     */
    public boolean isCommitted()
    {
        return state == COMMITTED;
    }

    /**
     * @return whether the transaction is still open.
     */
    public boolean isOpen()
    {
        return state == OPEN && !arena.isClosed() && arena.isOpen(depth, serial);
    }

    /**
     * @return nesting depth: 1 for a top-level transaction, 2 for a savepoint in it, and so on.
     */
    public int depth()
    {
        return depth;
    }

    /**
     * @return how many transactions the arena has open now.
     */
    public int arenaDepth()
    {
        return arena.transactionDepth();
    }

    /**
     * @return the arena (allocations made directly on it belong to the innermost open transaction).
     */
    public Arena arena()
    {
        return arena;
    }

    /**
     * @return the arena position this transaction started at; rewinding to it inside the transaction frees
     * its work but keeps it open.
     * @throws StaleHandleException if the transaction is closed.
     */
    public Checkpoint checkpoint()
    {
        checkOpen("read the checkpoint of");
        return arena.transactionCheckpoint(depth);
    }

    /**
     * Sets this transaction's budget: it may allocate at most {@code bytes} bytes in all (counted from its
     * start, padding included), and never more than the transaction it is nested in allows. Replaces an
     * earlier limit of this transaction; savepoints open inside it follow at once.
     *
     * @param bytes the limit, at least 0.
     * @throws IllegalArgumentException naming the value if it is negative.
     * @throws StaleHandleException     if the transaction is closed.
     */
    public void setLimit(final long bytes)
    {
        arena.setLimit(depth, serial, bytes);
    }

    /**
     * @return this transaction's own limit, or {@link Arena#UNLIMITED} if it set none.
     * @throws StaleHandleException if the transaction is closed.
     */
    public long limit()
    {
        checkOpen("read the limit of");
        return arena.limit(depth);
    }

    /**
     * @return bytes that may still be allocated under the budget that applies here (own or inherited), or
     * {@link Arena#UNLIMITED}.
     * @throws StaleHandleException if the transaction is closed.
     */
    public long budgetRemaining()
    {
        checkOpen("read the budget of");
        return arena.budgetRemaining(depth);
    }

    /**
     * @return bytes allocated since this transaction opened, padding and committed savepoints included. O(1).
     * @throws StaleHandleException if the transaction is closed.
     */
    public long bytesUsed()
    {
        checkOpen("read the bytes used by");
        return arena.bytesUsedSince(depth);
    }

    /**
     * @return bytes allocated, blocks touched and allocation count since this transaction opened. O(1).
     * @throws StaleHandleException if the transaction is closed.
     */
    public TxnDiff diff()
    {
        checkOpen("read the diff of");
        return arena.diff(depth);
    }

    /**
     * Allocates through the arena after checking this is the innermost open transaction.
     *
     * @param size      bytes, 1 to {@link Arena#MAX_ALLOCATION}.
     * @param alignment a power of two, 1 to {@link Arena#MAX_ALIGNMENT}.
     * @return a reference, see {@link Arena#allocate(int, int)}.
     * @throws StaleHandleException     if the transaction is closed.
     * @throws IllegalStateException    if a savepoint is open inside it.
     * @throws IllegalArgumentException naming the value for a bad size or alignment.
     * @throws BudgetExceededException  if the request would exceed the budget.
     * @throws OutOfMemoryError         if the reserve limit or the OS refuses a new block.
     */
    public long allocate(final int size, final int alignment)
    {
        arena.checkInnermost(depth, serial, "allocate in");
        return arena.allocateCounted(size, alignment, true);
    }

    /**
     * @param size bytes, aligned to {@link Arena#DEFAULT_ALIGNMENT}.
     * @return a reference, see {@link Arena#allocate(int)}.
     * @throws StaleHandleException     if the transaction is closed.
     * @throws IllegalStateException    if a savepoint is open inside it.
     * @throws IllegalArgumentException naming the value for a bad size.
     * @throws BudgetExceededException  if the request would exceed the budget.
     * @throws OutOfMemoryError         if the reserve limit or the OS refuses a new block.
     */
    public long allocate(final int size)
    {
        arena.checkInnermost(depth, serial, "allocate in");
        return arena.allocateCounted(size, Arena.DEFAULT_ALIGNMENT, true);
    }

    /**
     * @param size      bytes.
     * @param alignment a power of two.
     * @return a reference, or {@link Arena#NULL} when the budget or the memory is not there.
     * @throws StaleHandleException     if the transaction is closed.
     * @throws IllegalStateException    if a savepoint is open inside it.
     * @throws IllegalArgumentException naming the value for a bad size or alignment.
     */
    public long tryAllocate(final int size, final int alignment)
    {
        arena.checkInnermost(depth, serial, "allocate in");
        return arena.allocateCounted(size, alignment, false);
    }

    /**
     * @param size      bytes.
     * @param alignment a power of two.
     * @return a reference to zeroed bytes, see {@link Arena#allocateZeroed(int, int)}.
     * @throws StaleHandleException     if the transaction is closed.
     * @throws IllegalStateException    if a savepoint is open inside it.
     * @throws IllegalArgumentException naming the value for a bad size or alignment.
     * @throws BudgetExceededException  if the request would exceed the budget.
     * @throws OutOfMemoryError         if the reserve limit or the OS refuses a new block.
     */
    public long allocateZeroed(final int size, final int alignment)
    {
        arena.checkInnermost(depth, serial, "allocate in");
        return arena.allocateZeroed(size, alignment);
    }

    /**
     * @param size bytes, on a 64-byte cache line.
     * @return a reference, see {@link Arena#allocateCacheAligned(int)}.
     * @throws StaleHandleException     if the transaction is closed.
     * @throws IllegalStateException    if a savepoint is open inside it.
     * @throws IllegalArgumentException naming the value for a bad size.
     * @throws BudgetExceededException  if the request would exceed the budget.
     * @throws OutOfMemoryError         if the reserve limit or the OS refuses a new block.
     */
    public long allocateCacheAligned(final int size)
    {
        arena.checkInnermost(depth, serial, "allocate in");
        return arena.allocateCacheAligned(size);
    }

    /**
     * @param src bytes to copy.
     * @return a reference to the copy, see {@link Arena#copyOf(byte[])}.
     * @throws StaleHandleException    if the transaction is closed.
     * @throws IllegalStateException   if a savepoint is open inside it.
     * @throws BudgetExceededException if the request would exceed the budget.
     * @throws OutOfMemoryError        if the reserve limit or the OS refuses a new block.
     */
    public long copyOf(final byte[] src)
    {
        arena.checkInnermost(depth, serial, "allocate in");
        return arena.copyOf(src);
    }

    /**
     * @param src    the source buffer.
     * @param index  first byte.
     * @param length bytes.
     * @return a reference to the copy, see {@link Arena#copyOf(DirectBuffer, int, int)}.
     * @throws StaleHandleException      if the transaction is closed.
     * @throws IllegalStateException     if a savepoint is open inside it.
     * @throws IndexOutOfBoundsException if the range is outside {@code src} (nothing allocated).
     * @throws BudgetExceededException   if the request would exceed the budget.
     * @throws OutOfMemoryError          if the reserve limit or the OS refuses a new block.
     */
    public long copyOf(final DirectBuffer src, final int index, final int length)
    {
        arena.checkInnermost(depth, serial, "allocate in");
        return arena.copyOf(src, index, length);
    }

    /**
     * @param value the string.
     * @return a reference to its length-prefixed UTF-8 copy, see {@link Arena#copyOfUtf8(CharSequence)}.
     * @throws StaleHandleException            if the transaction is closed.
     * @throws IllegalStateException           if a savepoint is open inside it.
     * @throws IllegalArgumentException        if the encoding exceeds {@link Arena#MAX_ALLOCATION} bytes.
     * @throws BudgetExceededException         if the request would exceed the budget.
     * @throws OutOfMemoryError                if the reserve limit or the OS refuses a new block.
     * @throws java.util.ConcurrentModificationException if {@code value} changed while it was copied, see
     *                                         {@link Arena#copyOfUtf8(CharSequence)} (the allocation is taken back).
     */
    public long copyOfUtf8(final CharSequence value)
    {
        arena.checkInnermost(depth, serial, "allocate in");
        return arena.copyOfUtf8(value);
    }

    /**
     * @param flyweight the flyweight.
     * @param size      bytes.
     * @param alignment a power of two.
     * @param wrapper   how to wrap it.
     * @param <F>       the flyweight type.
     * @return the flyweight over new memory, see {@link Arena#place(Object, int, int, FlyweightWrapper)}.
     * @throws StaleHandleException     if the transaction is closed.
     * @throws NullPointerException     if {@code flyweight} or {@code wrapper} is null (nothing allocated).
     * @throws IllegalStateException    if a savepoint is open inside it, or the wrapper closed the arena or gave the
     *                                  placed memory back (rolled this transaction back, for one) while it ran.
     * @throws IllegalArgumentException naming the value for a bad size or alignment.
     * @throws BudgetExceededException  if the request would exceed the budget.
     * @throws OutOfMemoryError         if the reserve limit or the OS refuses a new block.
     */
    public <F> F place(final F flyweight, final int size, final int alignment, final FlyweightWrapper<F> wrapper)
    {
        arena.checkInnermost(depth, serial, "allocate in");
        return arena.place(flyweight, size, alignment, wrapper);
    }

    /**
     * @param ref a reference from this arena.
     * @return its block's buffer, see {@link Arena#buffer(long)}.
     * @throws StaleHandleException if the reference is not in a block in use.
     */
    public UnsafeBuffer buffer(final long ref)
    {
        return arena.buffer(ref);
    }

    /**
     * Registers an action run if this transaction (or one it is nested in) rolls back, and at the arena's
     * reset or close; see {@link Arena#defer(Runnable)}.
     *
     * @param action the action.
     * @throws StaleHandleException  if the transaction is closed.
     * @throws IllegalStateException if a savepoint is open inside it, or called from a cleanup action.
     */
    public void defer(final Runnable action)
    {
        arena.checkInnermost(depth, serial, "register a cleanup in");
        arena.defer(action);
    }

    /**
     * Registers a resource closed if this transaction (or one it is nested in) rolls back, and at the arena's
     * reset or close; see {@link Arena#deferClose(AutoCloseable)}.
     *
     * @param resource the resource.
     * @throws StaleHandleException  if the transaction is closed.
     * @throws IllegalStateException if a savepoint is open inside it, or called from a cleanup action.
     */
    public void deferClose(final AutoCloseable resource)
    {
        arena.checkInnermost(depth, serial, "register a cleanup in");
        arena.deferClose(resource);
    }

    @Override
    public String toString()
    {
        return "Transaction[depth " + depth + ", " +
            (state == COMMITTED ? "committed" : isOpen() ? "open" : "rolled back") + "]";
    }

    /** Commits after rolling back savepoints left open inside; used by the infallible closure form. */
    void commitClosingInner()
    {
        if (state != OPEN || !arena.isOpen(depth, serial) || arena.isClosed())
        {
            return;
        }
        Throwable failure = null;
        if (arena.txDepth > depth)
        {
            try
            {
                arena.rollback(depth + 1, arena.serialAt(depth + 1));
            }
            catch (final RuntimeException | Error ex)
            {
                failure = ex; // a cleanup of the inner savepoint failed after its rollback: commit all the same
            }
        }
        commit();
        if (failure instanceof RuntimeException)
        {
            throw (RuntimeException)failure;
        }
        if (failure != null)
        {
            throw (Error)failure;
        }
    }

    private void checkOpen(final String action)
    {
        if (state != OPEN || arena.isClosed() || !arena.isOpen(depth, serial))
        {
            throw new StaleHandleException("cannot " + action + " the transaction at depth " + depth +
                ": it is " + (state == COMMITTED ? "committed" : "closed"));
        }
    }
}
