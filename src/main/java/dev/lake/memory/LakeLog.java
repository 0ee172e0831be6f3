package dev.lake.memory;

import java.lang.System.Logger.Level;

/**
 * The one place Lake writes a log line: the {@code dev.lake} {@link System.Logger}, from code that must never
 * throw (the leak safety net, a pool's dispatcher, a thread hint). Public only because those callers live in
 * several packages; applications configure the {@code dev.lake} logger, they do not call this.
 */
public final class LakeLog
{
    private LakeLog()
    {
    }

    /**
     * Writes {@code head + subject + tail} at {@code level}, with {@code cause}. Never throws: the line is built
     * inside the guard as well as written, since the callers run where the heap may be full (an
     * {@code OutOfMemoryError} just reached them), the stack nearly spent, or the logging backend broken, and any
     * {@link Throwable} the logger or the concatenation throws is dropped. Pass the parts, not a message built
     * beforehand: a concatenation outside this method is outside the guard. Costs what the backend costs; nothing
     * when the backend drops the level.
     *
     * <p>The guard starts inside this method, so it cannot cover reaching it: a class's first call of it in the JVM
     * loads this class and resolves the call, which can allocate on the heap, and a full heap throws
     * {@code OutOfMemoryError} at the caller. A caller that must never throw puts the call in its own
     * {@code try}/{@code catch (Throwable)} (the pool's dispatcher was left wedged for good by exactly that).
     *
     * @param level   the level.
     * @param head    text before the subject.
     * @param subject what the line is about (its {@code toString()} is called inside the guard); may be null.
     * @param tail    text after the subject.
     * @param cause   the throwable to attach, or null.
     */
    public static void log(
        final Level level, final String head, final Object subject, final String tail, final Throwable cause)
    {
        try
        {
            System.getLogger("dev.lake").log(level, head + subject + tail, cause);
        }
        catch (final Throwable ignored)
        {
            // any Throwable, not only RuntimeException: a handler's AssertionError, a StackOverflowError (a log call
            // needs far more stack than the path that reached it), an OutOfMemoryError building the line, or a
            // checked exception thrown sneakily by a backend written in another JVM language
        }
    }
}
