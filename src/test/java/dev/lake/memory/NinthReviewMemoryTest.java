package dev.lake.memory;

import org.junit.jupiter.api.Test;

import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ninth hostile review of the memory foundation: a contract audit of {@link NativeMemory}, {@link RefCount} and
 * {@link Region}, each Javadoc promise checked by a test that fails if the promise breaks.
 */
class NinthReviewMemoryTest
{
    private static final Logger LAKE_LOGGER = Logger.getLogger("dev.lake");

    /**
     * {@code recordLeak} is documented "Never throws: ... a failing logging backend is ignored", and its callers rely
     * on it: the pool's leak drain calls it from the allocation path, in a loop over the reclaimed handles. It caught
     * only {@code RuntimeException}, {@code LinkageError} and {@code OutOfMemoryError}, so any other {@code Error} of
     * the backend escaped: a {@code StackOverflowError} (a logging call needs far more stack than its caller: an
     * allocation made near the stack's end that happens to drain a leak) or an {@code AssertionError} of a handler
     * run with {@code -ea}.
     */
    @Test
    void recordLeakNeverThrowsWhateverErrorTheLoggingBackendThrows()
    {
        for (final Error error : new Error[] {
            new StackOverflowError("simulated: the logging call ran out of stack"),
            new AssertionError("simulated: a handler's assertion"),
            new InternalError("simulated: the backend failed inside the JVM")})
        {
            final String marker = "ninth-review leak report " + error.getClass().getSimpleName();
            final Handler throwing = throwOnReportOf(marker, error);
            try
            {
                final long leaks = NativeMemory.leaks();
                assertDoesNotThrow(() -> NativeMemory.recordLeak(marker, 64, null), error.getClass().getName());
                assertEquals(leaks + 1, NativeMemory.leaks(), "the count stands whatever the report does");
            }
            finally
            {
                LAKE_LOGGER.removeHandler(throwing);
            }
        }
    }

    /**
     * {@code RefCount}: "exactly one release() returns true", and a retain after the last release and a release
     * past zero throw {@link StaleHandleException} without changing the count. Cheap, and the invariants every
     * shared owner relies on.
     */
    @Test
    void aRefCountNeverComesBackFromZeroAndReportsTheLastReleaseOnce()
    {
        final RefCount count = new RefCount();
        assertEquals(1, count.refCount());
        count.retain();
        count.retain();
        assertEquals(3, count.refCount());
        int lasts = 0;
        for (int i = 0; i < 3; i++)
        {
            lasts += count.release() ? 1 : 0;
        }
        assertEquals(1, lasts);
        assertEquals(0, count.refCount());
        assertTrue(org.junit.jupiter.api.Assertions.assertThrows(StaleHandleException.class, count::retain)
            .getMessage().contains("cannot retain"));
        org.junit.jupiter.api.Assertions.assertThrows(StaleHandleException.class, count::release);
        assertEquals(0, count.refCount(), "refused calls change nothing");
    }

    /**
     * {@code RefCount.retain()} at {@link Integer#MAX_VALUE}: {@link IllegalStateException} (not a
     * {@link StaleHandleException}), "it never wraps; the count is unchanged"; releases still work from there.
     */
    @Test
    void aRefCountAtIntegerMaxValueRefusesOneMoreAndNeverWraps() throws Exception
    {
        final RefCount count = new RefCount();
        final java.lang.invoke.VarHandle raw = java.lang.invoke.MethodHandles
            .privateLookupIn(RefCount.class, java.lang.invoke.MethodHandles.lookup())
            .findVarHandle(RefCount.class, "count", int.class);
        raw.setVolatile(count, Integer.MAX_VALUE - 1);
        count.retain();
        assertEquals(Integer.MAX_VALUE, count.refCount());
        final IllegalStateException refused =
            org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, count::retain);
        assertTrue(refused.getMessage().contains("too many"), refused.getMessage());
        assertEquals(Integer.MAX_VALUE, count.refCount(), "unchanged, never wrapped");
        assertEquals(false, count.release());
        assertEquals(Integer.MAX_VALUE - 1, count.refCount());
    }

    /**
     * {@code Region.checkDestination}: a read-only buffer is refused before its range; a range is checked against the
     * capacity (not the limit, for the absolute copies), negative offsets and lengths included.
     */
    @Test
    void checkDestinationRefusesReadOnlyBuffersAndRangesOutsideTheCapacity()
    {
        final java.nio.ByteBuffer heap = java.nio.ByteBuffer.allocate(16);
        heap.limit(4);
        assertDoesNotThrow(() -> Region.checkDestination(heap, 8, 8), "absolute: up to the capacity, past the limit");
        org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class,
            () -> Region.checkDestination(heap, 9, 8));
        org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class,
            () -> Region.checkDestination(heap, -1, 1));
        org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class,
            () -> Region.checkDestination(heap, 0, -1));
        org.junit.jupiter.api.Assertions.assertThrows(java.nio.ReadOnlyBufferException.class,
            () -> Region.checkDestination(heap.asReadOnlyBuffer(), 0, 0));
        org.junit.jupiter.api.Assertions.assertThrows(java.nio.ReadOnlyBufferException.class,
            () -> Region.checkDestination(java.nio.ByteBuffer.allocateDirect(4).asReadOnlyBuffer(), 99, 99));
    }

    /** A logging backend that fails with {@code error} on the leak report whose message contains {@code marker}. */
    private static Handler throwOnReportOf(final String marker, final Error error)
    {
        final Handler throwing = new Handler()
        {
            @Override
            public void publish(final LogRecord record)
            {
                if (record.getMessage() != null && record.getMessage().contains(marker))
                {
                    throw error;
                }
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
        LAKE_LOGGER.addHandler(throwing);
        return throwing;
    }
}
