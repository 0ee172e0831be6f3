package dev.lake.pool;

/**
 * Thrown when a request can never be satisfied by an arena, however many buffers are released: it asks for
 * more than one allocation of that arena can ever hold. Distinct from {@link ArenaFullException}
 * ("full right now"), so a caller never waits for capacity that cannot come.
 */
public final class RequestTooLargeException extends IllegalArgumentException
{
    private static final long serialVersionUID = 1L;

    /** The bytes asked for. */
    private final long requested;
    /** The most one allocation of the arena can hold. */
    private final long maximum;

    /**
     * @param arena     the arena's name.
     * @param requested the bytes asked for.
     * @param maximum   the most one allocation of this arena can hold.
     */
    public RequestTooLargeException(final String arena, final long requested, final long maximum)
    {
        super(arena + " can never satisfy a request for " + requested + " bytes: one allocation holds at most " +
            maximum + " bytes");
        this.requested = requested;
        this.maximum = maximum;
    }

    /**
     * @return the bytes asked for.
     */
    public long requested()
    {
        return requested;
    }

    /**
     * @return the most one allocation can hold.
     */
    public long maximum()
    {
        return maximum;
    }
}
