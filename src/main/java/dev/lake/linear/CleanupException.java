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
        super("a cleanup action failed: " + cause, cause);
    }
}
