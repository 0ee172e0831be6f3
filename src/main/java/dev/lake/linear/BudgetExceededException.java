package dev.lake.linear;

/**
 * Thrown when an allocation would exceed a {@link Transaction} budget ({@link Transaction#setLimit(long)}).
 * Nothing was allocated. The {@code try} forms return {@link Arena#NULL} or {@code null} instead.
 */
public final class BudgetExceededException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /** Depth of the transaction whose limit was hit. */
    private final int depth;
    /** That transaction's limit in bytes. */
    private final long limit;
    /** Bytes that transaction had used, padding included. */
    private final long used;
    /** Bytes the refused request would have used, padding included. */
    private final long requested;

    BudgetExceededException(final int depth, final long limit, final long used, final long requested)
    {
        super("transaction budget exceeded: limit " + limit + " bytes (set at depth " + depth + "), used " + used +
            ", requested " + requested + " (alignment padding included)");
        this.depth = depth;
        this.limit = limit;
        this.used = used;
        this.requested = requested;
    }

    /**
     * @return depth of the transaction whose limit was hit.
     */
    public int depth()
    {
        return depth;
    }

    /**
     * @return that transaction's limit in bytes.
     */
    public long limit()
    {
        return limit;
    }

    /**
     * @return bytes that transaction had used, padding included.
     */
    public long used()
    {
        return used;
    }

    /**
     * @return bytes the refused request would have used, alignment padding included.
     */
    public long requested()
    {
        return requested;
    }
}
