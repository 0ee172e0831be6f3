package dev.lake.pool;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Fourth review of waiting for capacity (WaitQueue and both arenas' waiting paths), after the third round's
 * uncount-before-completing override and the tombstone compaction: concurrency between producers, the dispatcher,
 * callers giving up and close().
 */
class FourthReviewWaitTest
{
    /**
     * The dispatcher finds the oldest request by looking at each class's head in turn. A request queued into a
     * class it had already looked at (found empty) was missed by that pass, so a request the same thread queued
     * AFTER it into a later class was served first: "the oldest request is served first, over all sizes" broke
     * for two requests of one thread. The window is widened here by tombstones the pass drops from the later
     * class.
     */
    @Test
    void aRequestQueuedWhileTheDispatcherScansIsNotOvertakenByALaterOneOfTheSameThread() throws Exception
    {
        final int tombstones = 300_000;
        try (FixedArena backing = FixedArena.builder(8, 16).leakDetection(false).build())
        {
            final CountDownLatch inGrant = new CountDownLatch(1);
            final CountDownLatch go = new CountDownLatch(1);
            final AtomicBoolean first = new AtomicBoolean(true);
            final List<Integer> grants = Collections.synchronizedList(new ArrayList<>());
            final WaitQueue queue = new WaitQueue("scan-race", 2, (sizeClass, size) ->
            {
                if (first.compareAndSet(true, false))
                {
                    inGrant.countDown();
                    try
                    {
                        go.await();
                    }
                    catch (final InterruptedException ex)
                    {
                        Thread.currentThread().interrupt();
                    }
                }
                grants.add(size);
                return backing.tryAllocate();
            }, null);
            final AtomicReference<CompletableFuture<Buffer>> head = new AtomicReference<>();
            final Thread dispatcher = new Thread(() -> head.set(queue.enqueue(1, 3)), "dispatcher");
            dispatcher.start();
            assertTrue(inGrant.await(10, TimeUnit.SECONDS));
            // while the dispatcher is inside grant: tombstones in class 1 (their drain passes are left to it)
            for (int i = 0; i < tombstones; i++)
            {
                queue.enqueue(1, 4).complete(null);
            }
            go.countDown();
            // the next pass has looked at class 0 (empty) once it drops class 1's tombstones
            while (queue.queued() > tombstones - 20_000)
            {
                Thread.onSpinWait();
            }
            final CompletableFuture<Buffer> older = queue.enqueue(0, 1);
            final CompletableFuture<Buffer> younger = queue.enqueue(1, 2);
            dispatcher.join();
            await().until(() -> older.isDone() && younger.isDone() && grants.size() == 3);
            assertEquals(List.of(3, 1, 2), grants, "order the requests were granted in");
            head.get().join().close();
            older.join().close();
            younger.join().close();
            final WaitMetrics m = queue.metrics();
            assertEquals(0, m.waiters());
            assertEquals(3, m.completed());
            assertEquals(tombstones, m.cancelled());
            assertEquals(0, queue.queued());
        }
    }
}
