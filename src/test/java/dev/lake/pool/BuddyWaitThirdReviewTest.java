package dev.lake.pool;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Third review of the buddy arena, the shared slot-arena base and waiting for capacity: each test failed before
 * the fix named in its commit.
 */
class BuddyWaitThirdReviewTest
{
    /**
     * "No whole-arena buffer in time, take a small one": a stage on the waiting future that allocates when the
     * request times out, is cancelled or is completed by its caller. Its own dead request used to still count as
     * waiting while the stage ran (a future runs its stages before the queue's own end-of-wait callback), so the
     * gate refused the fallback although half the arena was free and nobody else waited.
     */
    @Test
    void aStageOnAWaiterThatGaveUpCanAllocateWhatIsFree()
    {
        try (BuddyArena arena = BuddyArena.builder(1024, 64).build())
        {
            final Buffer half = arena.allocate(512);
            final AtomicReference<Buffer> fallback = new AtomicReference<>();
            final AtomicInteger waitersSeen = new AtomicInteger(-1);

            // orTimeout
            final CompletableFuture<Buffer> timed = arena.allocateAsync(1024);
            timed.orTimeout(10, TimeUnit.MILLISECONDS).exceptionally(t ->
            {
                waitersSeen.set(arena.waiters());
                fallback.set(arena.tryAllocate(256));
                return null;
            });
            await().until(() -> timed.isDone() && waitersSeen.get() >= 0);
            assertEquals(0, waitersSeen.get(), "the timed-out request still counted as waiting in its own stage");
            assertNotNull(fallback.get(), "the fallback allocation was refused by the request that timed out");
            fallback.getAndSet(null).close();

            // cancel
            final CompletableFuture<Buffer> cancelled = arena.allocateAsync(1024);
            cancelled.whenComplete((b, t) -> fallback.set(arena.tryAllocate(256)));
            assertTrue(cancelled.cancel(false));
            assertNotNull(fallback.get(), "the fallback allocation was refused by the cancelled request");
            fallback.getAndSet(null).close();

            // completeOnTimeout / complete(x)
            final CompletableFuture<Buffer> given = arena.allocateAsync(1024);
            given.whenComplete((b, t) -> fallback.set(arena.tryAllocate(256)));
            assertTrue(given.complete(null));
            assertNotNull(fallback.get(), "the fallback allocation was refused by the request completed by hand");
            fallback.getAndSet(null).close();

            // completeExceptionally by the caller
            final CompletableFuture<Buffer> failed = arena.allocateAsync(1024);
            failed.whenComplete((b, t) -> fallback.set(arena.tryAllocate(256)));
            assertTrue(failed.completeExceptionally(new IllegalStateException("gave up")));
            assertNotNull(fallback.get(), "the fallback allocation was refused by the request failed by hand");
            fallback.getAndSet(null).close();

            half.close();
            final BuddyArenaMetrics m = arena.metrics();
            assertEquals(new WaitMetrics(0, 0, 1, 2, 1, 0), m.waits());
            assertEquals(0, m.failedAllocations());
            assertTrue(m.fullyCoalesced());
        }
    }

    /** Another request still waiting keeps the gate closed for such a stage: the fix opens it only for its own. */
    @Test
    void aStageOnAWaiterThatGaveUpIsStillRefusedWhileOthersWait()
    {
        try (BuddyArena arena = BuddyArena.builder(1024, 64).build())
        {
            final Buffer half = arena.allocate(512);
            final CompletableFuture<Buffer> first = arena.allocateAsync(1024);
            final CompletableFuture<Buffer> second = arena.allocateAsync(1024);
            final AtomicReference<Object> seen = new AtomicReference<>("not run");
            first.whenComplete((b, t) -> seen.set(arena.tryAllocate(256)));
            assertTrue(first.cancel(false));
            assertNull(seen.get(), "an immediate allocation overtook a request still waiting");
            assertEquals(1, arena.waiters());
            half.close();
            final Buffer whole = second.join();
            assertEquals(1024, whole.capacity());
            whole.close();
            assertEquals(0, arena.waiters());
            assertTrue(arena.metrics().fullyCoalesced());
        }
    }
}
