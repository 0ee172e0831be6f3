package dev.lake.pool;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;

/**
 * What the futures of a wait test ended with, counted the way {@link WaitMetrics} counts them, for the hammer tests
 * to compare: one home for that classification. Futures served at once (never a {@link WaitQueue.Waiter}) are
 * skipped; a null value counts as cancelled (a caller's {@code complete(null)}).
 *
 * @param queued    futures that were queued requests.
 * @param completed ended with a buffer.
 * @param timedOut  ended by a timeout.
 * @param cancelled cancelled, or ended with a null value.
 * @param failed    ended by any other exception.
 */
record WaitOutcomes(long queued, long completed, long timedOut, long cancelled, long failed)
{
    /**
     * @param futures every future the test made, all done.
     * @return their outcomes.
     */
    static WaitOutcomes of(final Iterable<CompletableFuture<Buffer>> futures)
    {
        long queued = 0;
        long completed = 0;
        long timedOut = 0;
        long cancelled = 0;
        long failed = 0;
        for (final CompletableFuture<Buffer> f : futures)
        {
            if (!(f instanceof WaitQueue.Waiter))
            {
                continue; // served at once, never queued
            }
            queued++;
            try
            {
                if (f.join() != null)
                {
                    completed++;
                }
                else
                {
                    cancelled++;
                }
            }
            catch (final CancellationException ex)
            {
                cancelled++;
            }
            catch (final CompletionException ex)
            {
                if (ex.getCause() instanceof TimeoutException)
                {
                    timedOut++;
                }
                else
                {
                    failed++;
                }
            }
        }
        return new WaitOutcomes(queued, completed, timedOut, cancelled, failed);
    }
}
