package dev.lake.memory;

import dev.lake.testing.LogHandlers;

import org.junit.jupiter.api.Test;

import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link LakeLog}, the one place Lake logs from code that must never throw: the line it writes, and that nothing a
 * backend or the line's own subject throws gets out.
 */
class LakeLogTest
{
    private static final Logger LAKE_LOGGER = Logger.getLogger("dev.lake");

    @Test
    void writesTheThreePartsAsOneLineWithTheCauseAtTheLevel()
    {
        final List<LogRecord> seen = new CopyOnWriteArrayList<>();
        final Handler recording = handler(seen::add);
        LAKE_LOGGER.addHandler(recording);
        try
        {
            final Throwable cause = new IllegalStateException("cause");
            LakeLog.log(Level.WARNING, "lake-log-test ", "subject", " tail", cause);
            LakeLog.log(Level.ERROR, "lake-log-test ", null, " of nothing", null);
            assertEquals(2, seen.size());
            assertEquals("lake-log-test subject tail", seen.get(0).getMessage());
            assertSame(cause, seen.get(0).getThrown());
            assertEquals(java.util.logging.Level.WARNING, seen.get(0).getLevel());
            assertEquals("lake-log-test null of nothing", seen.get(1).getMessage());
            assertEquals(java.util.logging.Level.SEVERE, seen.get(1).getLevel());
        }
        finally
        {
            LAKE_LOGGER.removeHandler(recording);
        }
    }

    @Test
    void nothingTheBackendThrowsGetsOut()
    {
        for (final Throwable failure : new Throwable[] {
            new IllegalStateException("simulated: a broken handler"),
            new AssertionError("simulated: a handler's assertion"),
            new StackOverflowError("simulated: the logging call ran out of stack"),
            new OutOfMemoryError("simulated: no heap for the record"),
            new java.io.IOException("simulated: a checked exception thrown sneakily")})
        {
            final Handler throwing = handler(record -> LakeLogTest.<RuntimeException>sneaky(failure));
            LAKE_LOGGER.addHandler(throwing);
            try
            {
                assertDoesNotThrow(() -> LakeLog.log(Level.WARNING, "lake-log-test ", "x", "", failure),
                    failure.getClass().getName());
            }
            finally
            {
                LAKE_LOGGER.removeHandler(throwing);
            }
        }
    }

    /** The line is built inside the guard: a subject whose {@code toString()} throws costs the line, nothing more. */
    @Test
    void aSubjectWhoseToStringThrowsCostsTheLineOnly()
    {
        final Object hostile = new Object()
        {
            @Override
            public String toString()
            {
                throw new StackOverflowError("simulated: toString ran out of stack");
            }
        };
        final List<LogRecord> seen = new CopyOnWriteArrayList<>();
        final Handler recording = handler(seen::add);
        LAKE_LOGGER.addHandler(recording);
        try
        {
            assertDoesNotThrow(() -> LakeLog.log(Level.WARNING, "lake-log-test ", hostile, "", null));
            assertTrue(seen.isEmpty(), "no line for a subject that cannot be written");
        }
        finally
        {
            LAKE_LOGGER.removeHandler(recording);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> void sneaky(final Throwable t) throws T
    {
        throw (T)t;
    }

    /** A handler that passes on this test's records only (other tests of the JVM log to dev.lake too). */
    private static Handler handler(final java.util.function.Consumer<LogRecord> onPublish)
    {
        return LogHandlers.onMessageContaining("lake-log-test", onPublish);
    }
}
