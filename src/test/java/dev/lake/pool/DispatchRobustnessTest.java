package dev.lake.pool;

import dev.lake.testing.LogHandlers;

import dev.lake.memory.NativeMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Handler;
import java.util.logging.Logger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Failures at the edges never cost capacity or wedge the waiters: a logging backend that throws while a leak
 * is reported, an executor that throws, a waiter that ends with a value the dispatcher never delivered.
 */
class DispatchRobustnessTest
{
    private static final Logger LAKE_LOGGER = Logger.getLogger("dev.lake");
    private static final AtomicBoolean THROW_ON_LOG = new AtomicBoolean();
    private static final Handler THROWING = LogHandlers.of(record ->
    {
        if (THROW_ON_LOG.getAndSet(false))
        {
            throw new IllegalStateException("logging backend failure");
        }
    });

    @AfterEach
    void detach()
    {
        THROW_ON_LOG.set(false);
        LAKE_LOGGER.removeHandler(THROWING);
    }

    @Test
    void aThrowingLogBackendDuringLeakReclaimLosesNoSlot()
    {
        LAKE_LOGGER.addHandler(THROWING);
        final long leaks = NativeMemory.leaks();
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final WeakReference<Buffer> probe = leakOne(arena);
            await().atMost(Duration.ofSeconds(30)).until(() ->
            {
                System.gc();
                return probe.get() == null;
            });
            THROW_ON_LOG.set(true);
            final Buffer reclaimed = await().atMost(Duration.ofSeconds(30)).until(arena::tryAllocate, b -> b != null);
            assertEquals(1, arena.metrics().leaks());
            assertTrue(NativeMemory.leaks() > leaks);
            reclaimed.close();
            assertEquals(0, arena.metrics().liveSlots());
        }
    }

    @Test
    void anExecutorThatThrowsStillDeliversTheCapacity() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(1, 64)
            .completionExecutor(task ->
            {
                throw new IllegalStateException("executor is broken");
            })
            .build())
        {
            final Buffer held = arena.allocate();
            final CompletableFuture<Buffer> waiting = arena.allocateAsync();
            held.close();
            final Buffer handedOver = waiting.get(10, TimeUnit.SECONDS);
            handedOver.close();
            assertEquals(0, arena.metrics().liveSlots());
            final Buffer again = arena.tryAllocate();
            assertNotNull(again, "the slot came back");
            again.close();
        }
    }

    @Test
    void aHeadWaiterThatEndsWithAValueLetsTheNextOneThrough()
    {
        try (BuddyArena arena = BuddyArena.builder(128, 64).build())
        {
            final Buffer held = arena.allocate(64);
            final CompletableFuture<Buffer> big = arena.allocateAsync(128);
            final CompletableFuture<Buffer> small = arena.allocateAsync(64);
            assertTrue(big.complete(null), "the caller gives up on the big request with a value");
            await().atMost(Duration.ofSeconds(10)).until(small::isDone);
            small.join().close();
            held.close();
            final BuddyArenaMetrics metrics = arena.metrics();
            assertEquals(1, metrics.waits().completed(), "only the delivered request counts as completed");
            assertEquals(1, metrics.waits().cancelled(), "the request ended with a value gave up");
            assertTrue(metrics.fullyCoalesced());
        }
    }

    private static WeakReference<Buffer> leakOne(final FixedArena arena)
    {
        return new WeakReference<>(arena.allocate().putLong(1L));
    }
}
