package dev.lake.pool;

/**
 * The waiting half of an arena's metrics: requests parked until capacity comes ({@code allocateAsync},
 * {@code allocate(size, timeout)}). Exact once the threads using the arena are quiet.
 *
 * @param waiters        requests waiting now (cancelled and timed-out ones are not counted, even while their
 *                       tombstone is still queued).
 * @param completed      waits that ended with a buffer.
 * @param timedOut       waits that ended in a timeout ({@link AllocationTimeoutException}, or a
 *                       {@link java.util.concurrent.TimeoutException} from {@code orTimeout} or passed to
 *                       {@code completeExceptionally}).
 * @param cancelled      waits the caller gave up without an exception: its future was cancelled (also by an
 *                       interrupt of {@code allocate(size, timeout)} that it throws as {@code InterruptedException}),
 *                       or completed by the caller with a value the arena never delivered ({@code complete(x)},
 *                       {@code completeOnTimeout}, {@code completeAsync}), or ended by {@code allocate(size, timeout)}
 *                       itself when the heap refused one of the wait's objects (the {@code OutOfMemoryError} reaches
 *                       its caller, and a buffer handed over at that moment goes back: not completed).
 * @param failed         waits failed otherwise: closed arena ({@link ArenaClosedException}), a future completed
 *                       exceptionally by its caller with anything but a timeout, an error while capacity was
 *                       claimed for it, a request the queue could not take (an {@code OutOfMemoryError}, thrown to
 *                       its caller).
 * @param totalWaitNanos nanoseconds waited, summed over the completed waits (from enqueue to hand-over), so
 *                       {@code totalWaitNanos / completed} is the mean wait.
 */
public record WaitMetrics(int waiters, long completed, long timedOut, long cancelled, long failed, long totalWaitNanos)
{
}
