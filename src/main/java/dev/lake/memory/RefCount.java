package dev.lake.memory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A lock-free reference count that starts at one and refuses to come back from zero: a shared-ownership primitive
 * for the application's own shared resources. (Lake's allocators count in their own words instead: a frozen
 * {@code Bytes} in its slot's word, beside the generation; a shared slice in its header.)
 *
 * <p>{@link #retain()} on a released count and {@link #release()} past zero both throw
 * {@link StaleHandleException}, so a double release can never free memory twice, and a retain racing the
 * last release either wins (the memory stays) or fails cleanly (the memory is gone). Exactly one
 * {@code release()} call returns {@code true}.
 *
 * <p>Cost: one CAS per retain or release, no allocation.
 */
public class RefCount
{
    private static final VarHandle COUNT;

    static
    {
        try
        {
            COUNT = MethodHandles.lookup().findVarHandle(RefCount.class, "count", int.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    @SuppressWarnings("unused") // accessed through COUNT
    private volatile int count = 1;

    /**
     * Creates a count of one: the creator's reference, released with {@link #release()}.
     */
    public RefCount()
    {
    }

    /**
     * @return the current number of references; 0 once released.
     */
    public final int refCount()
    {
        return count;
    }

    /**
     * Adds one reference.
     *
     * @throws StaleHandleException  if the count already reached zero.
     * @throws IllegalStateException (not a {@link StaleHandleException}) if the count is already
     *                               {@link Integer#MAX_VALUE}: it never wraps; the count is unchanged.
     */
    public final void retain()
    {
        int current;
        do
        {
            current = count;
            if (current <= 0)
            {
                throw new StaleHandleException(this + " is already released: cannot retain");
            }
            if (current == Integer.MAX_VALUE)
            {
                throw new IllegalStateException(this + " has too many references");
            }
        }
        while (!COUNT.weakCompareAndSet(this, current, current + 1));
    }

    /**
     * Drops one reference.
     *
     * @return {@code true} for exactly one call: the one that dropped the last reference.
     * @throws StaleHandleException if the count already reached zero (a double release).
     */
    public final boolean release()
    {
        int current;
        do
        {
            current = count;
            if (current <= 0)
            {
                throw new StaleHandleException(this + " is already released: double release");
            }
        }
        while (!COUNT.weakCompareAndSet(this, current, current - 1));
        return current == 1;
    }
}
