package dev.lake.pool;

import java.time.Duration;
import java.util.Objects;

/**
 * Thrown by {@code allocate(size, timeout)} when no capacity came within the timeout. The request left the wait
 * queue: nothing is held for it, and capacity freed at the same moment went to the next waiter (or back to the
 * arena), never lost.
 */
public final class AllocationTimeoutException extends IllegalStateException
{
    private static final long serialVersionUID = 1L;

    /** The bytes asked for. */
    private final long requested;
    /** How long the caller waited; {@link Duration} is serializable, so the figure survives as the others do. */
    private final Duration timeout;

    /**
     * @param arena     the arena's name.
     * @param requested the bytes asked for.
     * @param timeout   how long the caller waited.
     * @throws NullPointerException if {@code timeout} is null.
     */
    public AllocationTimeoutException(final String arena, final long requested, final Duration timeout)
    {
        super(arena + ": no capacity for " + requested + " bytes within " + SlotArena.saturatedNanos(Objects.requireNonNull(timeout, "timeout")) / 1000 + " us");
        this.requested = requested;
        this.timeout = timeout;
    }

    /**
     * @return the bytes asked for.
     */
    public long requested()
    {
        return requested;
    }

    /**
     * @return how long the caller waited.
     */
    public Duration timeout()
    {
        return timeout;
    }
}
