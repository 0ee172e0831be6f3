package dev.lake.linear;

/**
 * Carries a checked exception thrown by an {@link AutoCloseable} registered with {@link Arena#deferClose}
 * when it was closed by a rewind, rollback, reset or close. Unchecked failures are rethrown as they are.
 * Either way the rewind completed and every other action ran; their failures are suppressed on the first.
 */
public final class CleanupException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    CleanupException(final Throwable cause)
    {
        super(describe(cause), cause);
    }

    /**
     * The message, naming the cause's own description where it gives one: that is the cause's {@code toString()},
     * user code run while the arena is inside its cleanup pass, so a failure there must not cut the pass short (the
     * later actions not run, the rewind not done); its class name stands in then.
     */
    private static String describe(final Throwable cause)
    {
        try
        {
            return "a cleanup action failed: " + cause;
        }
        catch (final Throwable ex) // a toString() in Kotlin or Scala (or a sneaky throw) can throw a checked one
        {
            return "a cleanup action failed: " + cause.getClass().getName() + " (its toString() threw " +
                ex.getClass().getName() + ")";
        }
    }
}
