package dev.lake.testing;

import java.util.function.Consumer;
import java.util.logging.Handler;
import java.util.logging.LogRecord;

/**
 * Logging backends for tests of Lake's "never throws whatever the logger does" paths: a {@code java.util.logging}
 * {@link Handler} (what {@code System.Logger} reaches by default) that hands each record to the test. Install it on
 * {@code Logger.getLogger("dev.lake")} and remove it in a {@code finally}.
 */
public final class LogHandlers
{
    private LogHandlers()
    {
    }

    /**
     * @param action what to do with every record (record it, or throw to simulate a failing backend).
     * @return a handler, not installed.
     */
    public static Handler of(final Consumer<LogRecord> action)
    {
        return new Handler()
        {
            @Override
            public void publish(final LogRecord record)
            {
                action.accept(record);
            }

            @Override
            public void flush()
            {
            }

            @Override
            public void close()
            {
            }
        };
    }

    /**
     * @param marker text the record's message must contain: other tests of the same JVM log to dev.lake too.
     * @param action what to do with such a record.
     * @return a handler, not installed.
     */
    public static Handler onMessageContaining(final String marker, final Consumer<LogRecord> action)
    {
        return of(record ->
        {
            if (record.getMessage() != null && record.getMessage().contains(marker))
            {
                action.accept(record);
            }
        });
    }
}
