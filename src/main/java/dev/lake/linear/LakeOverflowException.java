package dev.lake.linear;

/**
 * Thrown when a lake or lake view cannot satisfy a request from its remaining space. The allocator is left
 * exactly as it was before the call: a lake never grows, so the caller decides what to do (rewind, reset,
 * use a bigger lake, or use {@code tryAllocate}, which returns {@link LakeAllocator#NO_SPACE} instead).
 */
public final class LakeOverflowException extends IllegalStateException
{
    private static final long serialVersionUID = 1L;

    /** Bytes asked for. */
    private final long requested;
    /** Alignment asked for. */
    private final int alignment;
    /** Bytes left when the request failed. */
    private final long remaining;

    /**
     * @param requested bytes asked for.
     * @param alignment alignment asked for.
     * @param remaining bytes that were left (before any alignment padding).
     * @param capacity  capacity of the allocator, for the message.
     */
    public LakeOverflowException(final long requested, final int alignment, final long remaining, final long capacity)
    {
        super("lake overflow: requested " + requested + " B (alignment " + alignment + ") but only " + remaining +
            " B remain of " + capacity + " B");
        this.requested = requested;
        this.alignment = alignment;
        this.remaining = remaining;
    }

    /**
     * @return bytes asked for.
     */
    public long requested()
    {
        return requested;
    }

    /**
     * @return alignment asked for.
     */
    public int alignment()
    {
        return alignment;
    }

    /**
     * @return bytes that were left when the request failed (before alignment padding).
     */
    public long remaining()
    {
        return remaining;
    }
}
