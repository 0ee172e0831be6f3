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

    /**
     * A thread retrying {@code allocate(size, short timeout)} behind a request that keeps waiting: every retry that
     * timed out stayed queued behind the live head as a tombstone (with its exception and stack trace) until the
     * head was served, so the heap grew without bound for as long as the arena stayed full.
     */
    @Test
    void requestsThatGiveUpBehindAWaitingOneDoNotPileUp() throws InterruptedException
    {
        try (BuddyArena arena = BuddyArena.builder(1024, 64).build())
        {
            final Buffer all = arena.allocate(1024);
            final CompletableFuture<Buffer> head = arena.allocateAsync(64);
            for (int i = 0; i < 10_000; i++)
            {
                assertThrows(AllocationTimeoutException.class, () -> arena.allocate(64, java.time.Duration.ZERO));
                assertTrue(arena.allocateAsync(64).cancel(false));
            }
            assertTrue(arena.waits.queued() < 200, "tombstones kept: " + arena.waits.queued());
            assertEquals(1, arena.waiters());
            all.close();
            final Buffer got = head.join();
            assertEquals(64, got.capacity());
            got.close();
            assertEquals(0, arena.waits.queued());
            final BuddyArenaMetrics m = arena.metrics();
            assertEquals(new WaitMetrics(0, 1, 10_000, 10_000, 0, m.waits().totalWaitNanos()), m.waits());
            assertTrue(m.fullyCoalesced());
        }
    }

    /** Dropping the tombstones keeps the live requests first-in first-out, also those that came after. */
    @Test
    void droppingTombstonesKeepsTheWaitersInOrder()
    {
        try (BuddyArena arena = BuddyArena.builder(1024, 64).build())
        {
            final java.util.List<Buffer> held = new java.util.ArrayList<>();
            for (int i = 0; i < 16; i++)
            {
                held.add(arena.allocate(64));
            }
            final java.util.List<CompletableFuture<Buffer>> live = new java.util.ArrayList<>();
            for (int i = 0; i < 6; i++)
            {
                live.add(arena.allocateAsync(i % 2 == 0 ? 64 : 128));
                for (int j = 0; j < 100; j++)
                {
                    assertTrue(arena.allocateAsync(j % 2 == 0 ? 64 : 128).cancel(false));
                }
            }
            assertTrue(arena.waits.queued() < 200, "tombstones kept: " + arena.waits.queued());
            final java.util.List<Integer> order = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            for (int i = 0; i < live.size(); i++)
            {
                final int n = i;
                live.get(i).thenAccept(b -> order.add(n));
            }
            for (final Buffer b : held)
            {
                b.close();
            }
            assertEquals(java.util.List.of(0, 1, 2, 3, 4, 5), order);
            for (final CompletableFuture<Buffer> f : live)
            {
                f.join().close();
            }
            assertEquals(0, arena.waiters());
            assertTrue(arena.metrics().fullyCoalesced());
        }
    }

    /**
     * Many threads (more than cores) waiting, giving up and releasing on a small arena while tombstones are
     * dropped mid-queue: nothing lost, every request ends, the counters are exact once quiet.
     */
    @Test
    void waitersGivingUpUnderContentionLoseNothing() throws Exception
    {
        for (final boolean cache : new boolean[] {true, false})
        {
            final BuddyArena arena = BuddyArena.builder(2048, 64).freeBlockCache(cache).build();
            final java.util.concurrent.atomic.LongAdder timedOut = new java.util.concurrent.atomic.LongAdder();
            final java.util.concurrent.atomic.LongAdder cancelled = new java.util.concurrent.atomic.LongAdder();
            final java.util.concurrent.atomic.LongAdder delivered = new java.util.concurrent.atomic.LongAdder();
            final java.util.List<CompletableFuture<Buffer>> futures =
                java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            final Thread[] threads = new Thread[8];
            for (int t = 0; t < threads.length; t++)
            {
                final java.util.Random random = new java.util.Random(t);
                threads[t] = new Thread(() ->
                {
                    for (int i = 0; i < 3_000; i++)
                    {
                        final int size = 1 + random.nextInt(random.nextInt(4) == 0 ? 2048 : 256);
                        try
                        {
                            if (random.nextBoolean())
                            {
                                final Buffer b = arena.allocate(size, java.time.Duration.ofNanos(random.nextInt(50_000)));
                                Thread.yield();
                                b.close();
                            }
                            else
                            {
                                final CompletableFuture<Buffer> f = arena.allocateAsync(size);
                                futures.add(f);
                                f.thenAccept(b ->
                                {
                                    delivered.increment();
                                    b.close();
                                });
                                if (random.nextBoolean() && f.cancel(false))
                                {
                                    cancelled.increment();
                                }
                            }
                        }
                        catch (final AllocationTimeoutException ex)
                        {
                            timedOut.increment();
                        }
                        catch (final InterruptedException ex)
                        {
                            return;
                        }
                    }
                });
                threads[t].start();
            }
            for (final Thread t : threads)
            {
                t.join();
            }
            await().until(() -> futures.stream().allMatch(CompletableFuture::isDone));
            final BuddyArenaMetrics m = arena.metrics();
            assertEquals(0, m.waits().waiters());
            assertEquals(timedOut.sum(), m.waits().timedOut());
            assertEquals(cancelled.sum(), m.waits().cancelled());
            assertEquals(0, m.waits().failed());
            assertEquals(0, m.liveBlocks());
            assertTrue(m.fullyCoalesced());
            assertEquals(0, arena.waits.queued());
            arena.close();
            assertTrue(arena.isRegionFreed());
        }
    }

    /**
     * The JFR event publishes "the figures of BuddyArenaMetrics", but it carried completed and timed-out waits
     * only: cancelled and failed waits (a close, a caller's completeExceptionally) and the geometry's maxOrder
     * were missing, so a recording could not tell requests that gave up from requests still waiting.
     */
    @Test
    void theJfrEventCarriesEveryWaitOutcome()
    {
        final java.util.Map<String, Long> seen = new java.util.concurrent.ConcurrentHashMap<>();
        try (BuddyArena arena = BuddyArena.builder(1024, 64).name("jfr-buddy-third").jfrEvents(true).build();
            jdk.jfr.consumer.RecordingStream stream = new jdk.jfr.consumer.RecordingStream())
        {
            stream.enable(BuddyArenaMetricsEvent.NAME).withPeriod(java.time.Duration.ofMillis(50));
            stream.onEvent(BuddyArenaMetricsEvent.NAME, event ->
            {
                if ("jfr-buddy-third".equals(event.getString("arena")))
                {
                    for (final String field : new String[] {"waitsCancelled", "waitsFailed", "waitsTimedOut", "maxOrder"})
                    {
                        if (event.hasField(field))
                        {
                            seen.put(field, ((Number)event.getValue(field)).longValue());
                        }
                    }
                }
            });
            stream.startAsync();
            final Buffer all = arena.allocate(1024);
            assertTrue(arena.allocateAsync(64).cancel(false));
            assertTrue(arena.allocateAsync(64).cancel(false));
            assertTrue(arena.allocateAsync(64).completeExceptionally(new IllegalStateException("gave up")));
            arena.allocateAsync(64).orTimeout(1, TimeUnit.MILLISECONDS);
            await().atMost(java.time.Duration.ofSeconds(20)).until(() -> arena.metrics().waits().timedOut() == 1);
            await().atMost(java.time.Duration.ofSeconds(20)).until(() ->
                Long.valueOf(2).equals(seen.get("waitsCancelled")) && Long.valueOf(1).equals(seen.get("waitsFailed")) &&
                    Long.valueOf(1).equals(seen.get("waitsTimedOut")) && Long.valueOf(4).equals(seen.get("maxOrder")));
            all.close();
        }
    }

    /**
     * A wait that failed with an Error (an OutOfMemoryError while the dispatcher wrapped the capacity for the
     * request) reached the blocked caller wrapped in IllegalStateException("waiting failed"): a caller catching
     * IllegalStateException for a timeout or a closed arena took the OOM for one of those. The Error now comes
     * through as it is; a checked cause is still wrapped and a RuntimeException still unwrapped. (The dispatcher
     * cannot be made to fail with an Error from a test, so the unwrapping is tested where it happens.)
     */
    @Test
    void aWaitThatFailedWithAnErrorRethrowsTheErrorUnwrapped()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).name("unwrap-third").build())
        {
            final OutOfMemoryError oom = new OutOfMemoryError("handing over");
            assertSame(oom, assertThrows(OutOfMemoryError.class, () -> arena.unwrap(oom)));
            final ArenaClosedException closed = new ArenaClosedException("closed");
            assertSame(closed, arena.unwrap(closed));
            final Exception checked = new java.io.IOException("checked");
            final RuntimeException wrapped = arena.unwrap(checked);
            assertInstanceOf(IllegalStateException.class, wrapped);
            assertSame(checked, wrapped.getCause());
        }
    }

    /** The public constructor's timeout is required: a null one is named, not a NullPointerException from inside. */
    @Test
    void anAllocationTimeoutExceptionWithoutATimeoutNamesIt()
    {
        final NullPointerException npe = assertThrows(NullPointerException.class,
            () -> new AllocationTimeoutException("a", 64, null));
        assertEquals("timeout", npe.getMessage());
        assertEquals(java.time.Duration.ofMillis(5), new AllocationTimeoutException("a", 64, java.time.Duration.ofMillis(5)).timeout());
    }
}
