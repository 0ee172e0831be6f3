package dev.lake.pool;

/**
 * Thrown by an allocation on a closed arena, and the cause with which {@code close()} fails every request still
 * waiting for capacity ({@code allocateAsync}, {@code allocate(size, timeout)}): no capacity will ever come.
 */
public final class ArenaClosedException extends IllegalStateException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what was refused, naming the arena.
     */
    public ArenaClosedException(final String message)
    {
        super(message);
    }
}
