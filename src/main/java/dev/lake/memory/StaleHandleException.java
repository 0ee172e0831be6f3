package dev.lake.memory;

/**
 * Thrown when a handle (a droplet, view, buffer, frozen bytes, slice) is used after its memory stopped being
 * its own: after release, rewind, reset, rollback or close. The memory was not touched.
 */
public final class StaleHandleException extends IllegalStateException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what was used and why it is no longer valid.
     */
    public StaleHandleException(final String message)
    {
        super(message);
    }
}
