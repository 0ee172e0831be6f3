package dev.lake.linear;

import dev.lake.memory.StaleHandleException;

/**
 * A commit-or-rollback scope over a lake or view, opened by {@link LakeAllocator#sandbox()}:
 *
 * <pre>{@code
 * try (Sandbox s = lake.sandbox())
 * {
 *     int at = s.allocate(64);          // or lake.allocate(64): the same memory
 *     ...
 *     s.commit();                       // keep; without it, close() rolls back to where the sandbox opened
 * }
 * }</pre>
 *
 * <p>Semantics. Allocations made on the allocator while the sandbox is the innermost open one belong to it.
 * {@link #commit()} keeps them (they then belong to the enclosing sandbox, if any) and ends the sandbox;
 * {@link #close()} without commit rewinds to where the sandbox opened (droplets and views made inside become
 * invalid, so do snapshots taken inside above its start) and cuts the mark stack back to its depth when the
 * sandbox opened, so every mark pushed inside is discarded, even one pushed at its start; then it ends the
 * sandbox. (A body that pops the enclosing scope's marks misuses them: marks it pushes in their place, at depths
 * no deeper than at the opening, stay.) Sandboxes nest; they must end in LIFO order:
 * committing, rolling back or closing a sandbox while one opened after it is still open throws
 * {@link IllegalStateException} and changes nothing (close the inner one first; try-with-resources does).
 *
 * <p>A rewind that moves the position below the sandbox's start (a reset, a rewind to an older snapshot or
 * mark, a parent rewinding over the view, closing the lake) invalidates the sandbox: its memory is gone.
 * Then {@link #commit()} and {@link #rollback()} throw {@link StaleHandleException}, and {@link #close()}
 * quietly ends it (there is nothing left to roll back). A rewind exactly to the start keeps it open.
 *
 * <p>Misuse: commit or rollback after the sandbox ended, or allocating through an ended sandbox, throws
 * {@link IllegalStateException} naming what happened. {@code close()} is idempotent.
 *
 * <p>Cost: opening, commit and rollback are O(1) (rollback plus O(bytes) with zeroing); one small object per
 * sandbox, removed by the JIT when it does not escape. Not thread-safe.
 */
public final class Sandbox implements AutoCloseable
{
    private static final int OPEN = 0;
    private static final int COMMITTED = 1;
    private static final int ROLLED_BACK = 2;
    private static final int INVALIDATED = 3;

    private final LakeAllocator owner;
    private final int depth;
    private final long id;
    private final int start;
    /** The allocator's mark depth when it opened: a rollback drops the marks pushed inside. */
    private final int marksAtOpen;
    private int state;

    Sandbox(final LakeAllocator owner, final int depth, final long id, final int start, final int marksAtOpen)
    {
        this.owner = owner;
        this.depth = depth;
        this.id = id;
        this.start = start;
        this.marksAtOpen = marksAtOpen;
    }

    /**
     * @return the lake or view this sandbox is on.
     */
    public LakeAllocator allocator()
    {
        return owner;
    }

    /**
     * @return the position at which the sandbox opened, where a rollback rewinds to.
     */
    public int start()
    {
        return start;
    }

    /**
     * @return whether the sandbox is open: not committed, rolled back or invalidated.
     */
    public boolean isOpen()
    {
        return state == OPEN && owner.sandboxActive(depth, id);
    }

    /**
     * @return whether {@link #commit()} succeeded.
     */
    public boolean isCommitted()
    {
        return state == COMMITTED;
    }

    /**
     * @return bytes allocated since the sandbox opened (alignment padding included); 0 once it is not open.
     */
    public int used()
    {
        return isOpen() ? owner.offset - start : 0;
    }

    /**
     * Allocates through the sandbox: {@link LakeAllocator#allocate(int)} after checking the sandbox is open and
     * innermost. O(1), no object.
     *
     * @param size bytes, at least 1.
     * @return offset of the first byte in the lake's buffer.
     * @throws IllegalStateException    if the sandbox ended or an inner sandbox is open
     *                                  ({@link StaleHandleException} if it was invalidated).
     * @throws IllegalArgumentException if {@code size <= 0}.
     * @throws LakeOverflowException    if it does not fit.
     */
    public int allocate(final int size)
    {
        checkInnermost("allocate through");
        return owner.allocate(size);
    }

    /**
     * Allocates through the sandbox: {@link LakeAllocator#allocate(int, int)} after checking the sandbox is
     * open and innermost.
     *
     * @param size      bytes, at least 1.
     * @param alignment a power of two up to the page size.
     * @return offset of the first byte in the lake's buffer.
     * @throws IllegalStateException    if the sandbox ended or an inner sandbox is open
     *                                  ({@link StaleHandleException} if it was invalidated).
     * @throws IllegalArgumentException if the size or alignment is bad.
     * @throws LakeOverflowException    if it does not fit.
     */
    public int allocate(final int size, final int alignment)
    {
        checkInnermost("allocate through");
        return owner.allocate(size, alignment);
    }

    /**
     * A droplet through the sandbox: {@link LakeAllocator#droplet(int)} after checking the sandbox is open
     * and innermost.
     *
     * @param size bytes, at least 1.
     * @return the droplet; a rollback invalidates it.
     * @throws IllegalStateException    if the sandbox ended or an inner sandbox is open
     *                                  ({@link StaleHandleException} if it was invalidated).
     * @throws IllegalArgumentException if {@code size <= 0}.
     * @throws LakeOverflowException    if it does not fit.
     */
    public Droplet droplet(final int size)
    {
        checkInnermost("allocate through");
        return owner.droplet(size);
    }

    /**
     * Keeps everything allocated in the sandbox and ends it. O(1).
     *
     * @throws IllegalStateException if the sandbox already ended, or an inner sandbox is still open (nothing
     *                               changes).
     * @throws StaleHandleException  if a rewind below the sandbox's start (or closing the lake) invalidated it:
     *                               what it held is gone and cannot be committed.
     */
    public void commit()
    {
        checkInnermost("commit");
        owner.popSandbox(depth);
        state = COMMITTED;
    }

    /**
     * Rolls back explicitly: rewinds to {@link #start()} and ends the sandbox. O(1) (plus O(bytes) with
     * zeroing).
     *
     * @throws IllegalStateException if the sandbox already ended, or an inner sandbox is still open (nothing
     *                               changes).
     * @throws StaleHandleException  if it was invalidated (its memory is already gone).
     */
    public void rollback()
    {
        checkInnermost("roll back");
        rollbackNow();
    }

    /**
     * Rolls back unless committed, and ends the sandbox. Idempotent: closing an ended sandbox does nothing,
     * and closing an invalidated one just ends it (its memory is already gone). The sandbox is ended before the
     * rewind: a close cut short by a {@link StackOverflowError} (a body that recursed to the edge of the stack) leaves
     * it ended, never open with nobody to end it, though its bytes may then stay until an enclosing rewind.
     *
     * @throws IllegalStateException if an inner sandbox is still open: nothing changes, this one stays open.
     */
    @Override
    public void close()
    {
        if (state != OPEN)
        {
            return;
        }
        if (!owner.sandboxActive(depth, id))
        {
            state = INVALIDATED;
            return;
        }
        owner.checkNoInnerSandbox(depth, "close");
        rollbackNow();
    }

    @Override
    public String toString()
    {
        final String what = switch (state)
        {
            case COMMITTED -> "committed";
            case ROLLED_BACK -> "rolled back";
            case INVALIDATED -> "invalidated";
            default -> openOrInvalidated();
        };
        return "Sandbox[at " + start + " of " + owner + ", " + what + "]";
    }

    /** For toString(), which loggers call from any thread: never throws, not even for a confined lake. */
    private String openOrInvalidated()
    {
        try
        {
            return owner.sandboxActive(depth, id) ? "open" : "invalidated";
        }
        catch (final IllegalStateException confinedElsewhere)
        {
            return "confined to another thread";
        }
    }

    private void rollbackNow()
    {
        owner.endThenRewind(depth, marksAtOpen, start);
        state = ROLLED_BACK;
    }

    private void checkInnermost(final String action)
    {
        if (state != OPEN)
        {
            throw new IllegalStateException("cannot " + action + " " + this + ": it already ended");
        }
        if (!owner.sandboxActive(depth, id))
        {
            throw new StaleHandleException("cannot " + action + " " + this + ": " +
                (owner.alive() ? "a rewind moved " + owner + " below the sandbox's start, or endSandboxes ended it" :
                    owner + " is no longer valid"));
        }
        owner.checkNoInnerSandbox(depth, action);
    }
}
