package dev.lake.pool;

/**
 * Thrown when an arena has no free capacity right now, or other requests wait for capacity and are served
 * first (the message says which): the request could succeed later, once buffers are released. Distinct from
 * {@link RequestTooLargeException}, which no amount of waiting can cure.
 *
 * <p>Creating this exception captures a stack trace; callers that poll a full arena in a loop should use the
 * {@code tryAllocate} forms, which return {@code null} (or {@link FixedArena#NO_HANDLE}) instead.
 */
public final class ArenaFullException extends IllegalStateException
{
    private static final long serialVersionUID = 1L;

    /** The arena's total capacity, in the unit of the message. */
    private final long capacity;
    /** How much was in use when the request failed. */
    private final long live;

    /**
     * @param arena    the arena's name.
     * @param capacity how many slots (or bytes) the arena holds in all.
     * @param live     how many of them were in use when the request failed.
     * @param unit     what {@code capacity} and {@code live} count, for the message ("slots", "bytes").
     */
    public ArenaFullException(final String arena, final long capacity, final long live, final String unit)
    {
        this(arena, capacity, live, unit, 0);
    }

    /**
     * For a request refused while others wait: an arena with waiting requests serves them first, so an
     * immediate request fails even when some capacity is free (it would otherwise overtake them).
     *
     * @param arena    the arena's name.
     * @param capacity how many slots (or bytes) the arena holds in all.
     * @param live     how many of them were in use when the request failed.
     * @param unit     what {@code capacity} and {@code live} count, for the message ("slots", "bytes").
     * @param waiting  how many requests were waiting; 0 gives the plain "is full" message.
     */
    public ArenaFullException(
        final String arena, final long capacity, final long live, final String unit, final int waiting)
    {
        super(waiting > 0 ?
            arena + " has " + waiting + " waiting request(s), served first: " + live + " of " + capacity + " " +
                unit + " in use" :
            arena + " is full: " + live + " of " + capacity + " " + unit + " in use");
        this.capacity = capacity;
        this.live = live;
    }

    /**
     * @return the arena's total capacity, in the unit of the message.
     */
    public long capacity()
    {
        return capacity;
    }

    /**
     * @return how much was in use when the request failed (a racy snapshot under concurrency).
     */
    public long live()
    {
        return live;
    }
}
