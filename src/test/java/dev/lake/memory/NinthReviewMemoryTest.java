package dev.lake.memory;

import dev.lake.testing.LogHandlers;
import dev.lake.testing.NativeAccounting;

import org.junit.jupiter.api.Test;

import java.util.logging.Handler;
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
                final long reports = NativeAccounting.reportsNaming(marker);
                assertDoesNotThrow(() -> NativeMemory.recordLeak(marker, 64, null), error.getClass().getName());
                // at least: the safety net may count another test's leak meanwhile
                assertTrue(NativeMemory.leaks() >= leaks + 1, "the count stands whatever the report does");
                assertEquals(reports + 1, NativeAccounting.reportsNaming(marker), "recorded once");
            }
            finally
            {
                LAKE_LOGGER.removeHandler(throwing);
            }
        }
    }

    /**
     * What the broken promise cost: a full {@code FixedArena} drains its leaked buffers on the allocation path and
     * reports each through {@code recordLeak}; a logging backend failing there with a {@code StackOverflowError} made
     * {@code tryAllocate()} throw that error instead of handing out the slot it had just reclaimed.
     */
    @Test
    void anAllocationThatReclaimsALeakedSlotSucceedsWhateverTheLoggingBackendThrows()
    {
        final String marker = "ninth-review leaked arena";
        final java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
        final Handler throwing = LogHandlers.onMessageContaining(marker, record ->
        {
            if (armed.get())
            {
                throw new StackOverflowError("simulated: the logging call ran out of stack");
            }
        });
        LAKE_LOGGER.addHandler(throwing);
        try (dev.lake.pool.FixedArena arena = dev.lake.pool.FixedArena.builder(1, 64).name(marker).build())
        {
            final java.lang.ref.WeakReference<dev.lake.pool.Buffer> probe = leakOne(arena);
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30)).until(() ->
            {
                System.gc();
                return probe.get() == null;
            });
            armed.set(true);
            final dev.lake.pool.Buffer reclaimed = org.awaitility.Awaitility.await()
                .atMost(java.time.Duration.ofSeconds(30)).until(arena::tryAllocate, b -> b != null);
            assertEquals(1, arena.metrics().leaks());
            reclaimed.close();
            assertEquals(0, arena.metrics().liveSlots());
        }
        finally
        {
            LAKE_LOGGER.removeHandler(throwing);
        }
    }

    private static java.lang.ref.WeakReference<dev.lake.pool.Buffer> leakOne(final dev.lake.pool.FixedArena arena)
    {
        return new java.lang.ref.WeakReference<>(arena.allocate().putLong(1L));
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
        final Handler throwing = LogHandlers.onMessageContaining(marker, record ->
        {
            throw error;
        });
        LAKE_LOGGER.addHandler(throwing);
        return throwing;
    }
}
