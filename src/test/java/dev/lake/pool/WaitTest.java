package dev.lake.pool;

import dev.lake.memory.NativeMemory;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/** Waiting for capacity on both arena kinds: hand-over, FIFO, fairness, timeouts, cancellation, close. */
class WaitTest
{
    private static final Duration AWAIT = Duration.ofSeconds(20);

    @Test
    void aReleaseCompletesTheFixedArenaWaiterWithTheSlot()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer held = arena.allocate();
            final CompletableFuture<Buffer> waiting = arena.allocateAsync();
            assertFalse(waiting.isDone());
            assertEquals(1, arena.metrics().waits().waiters());
            assertNull(arena.tryAllocate(), "full");
            held.close();
            await().atMost(AWAIT).until(waiting::isDone);
            final Buffer got = waiting.join();
            assertEquals(64, got.capacity());
            got.close();
            await().atMost(AWAIT).until(() -> arena.metrics().waits().completed() == 1);
            final WaitMetrics w = arena.metrics().waits();
            assertEquals(0, w.waiters());
            assertTrue(w.totalWaitNanos() > 0);
        }
    }

    @Test
    void anAsyncRequestWithFreeCapacityCompletesAtOnceWithoutQueueing()
    {
        try (BuddyArena arena = BuddyArena.builder(4096, 64).build())
        {
            final CompletableFuture<Buffer> now = arena.allocateAsync(100);
            assertTrue(now.isDone());
            now.join().close();
            assertEquals(0, arena.metrics().waits().completed(), "no wait happened");
        }
    }

    @Test
    void waitersOfOneSizeAreServedFirstInFirstOut()
    {
        try (BuddyArena arena = BuddyArena.builder(1024, 64).build())
        {
            final Buffer all = arena.allocate(1024);
            final List<CompletableFuture<Buffer>> queue = new ArrayList<>();
            for (int i = 0; i < 4; i++)
            {
                queue.add(arena.allocateAsync(512));
            }
            all.close();
            await().atMost(AWAIT).until(() -> queue.get(0).isDone() && queue.get(1).isDone());
            assertFalse(queue.get(2).isDone());
            assertFalse(queue.get(3).isDone());
            queue.get(0).join().close();
            await().atMost(AWAIT).until(() -> queue.get(2).isDone());
            assertFalse(queue.get(3).isDone(), "third before fourth");
            queue.get(1).join().close();
            await().atMost(AWAIT).until(() -> queue.get(3).isDone());
            queue.get(2).join().close();
            queue.get(3).join().close();
            assertTrue(arena.metrics().fullyCoalesced());
        }
    }

    @Test
    void aLargeWaiterIsNotStarvedByAStreamOfSmallAllocations()
    {
        final int smalls = 16;
        try (BuddyArena arena = BuddyArena.builder(smalls * 64, 64).build())
        {
            final List<Buffer> held = new ArrayList<>();
            for (int i = 0; i < smalls; i++)
            {
                held.add(arena.allocate(64));
            }
            final CompletableFuture<Buffer> large = arena.allocateAsync(smalls * 64);
            final CompletableFuture<Buffer> smallBehind = arena.allocateAsync(64);
            int releases = 0;
            final SplittableRandom random = new SplittableRandom(7);
            while (!large.isDone())
            {
                assertTrue(releases < smalls, "the large request must complete within " + smalls + " releases");
                held.remove(random.nextInt(held.size())).close();
                releases++;
                // The stream of small requests: without the gate each would take the block just freed.
                assertNull(arena.tryAllocate(64), "a small allocation must queue behind the large waiter");
                assertFalse(smallBehind.isDone(), "a younger small waiter must not overtake the large one");
            }
            assertEquals(smalls, releases, "the large request needs the whole arena: every small block back");
            assertEquals(smalls * 64, large.join().capacity());
            large.join().close();
            await().atMost(AWAIT).until(smallBehind::isDone);
            smallBehind.join().close();
            assertTrue(arena.metrics().fullyCoalesced());
        }
    }

    @Test
    void aTimedAllocationThrowsAClearTimeoutAndHoldsNothing() throws Exception
    {
        try (BuddyArena arena = BuddyArena.builder(1024, 64).build())
        {
            final Buffer all = arena.allocate(1024);
            final AllocationTimeoutException timeout = assertThrows(AllocationTimeoutException.class,
                () -> arena.allocate(64, Duration.ofMillis(5)));
            assertEquals(64, timeout.requested());
            assertTrue(timeout.getMessage().contains("64 bytes"), timeout.getMessage());
            await().atMost(AWAIT).until(() -> arena.metrics().waits().timedOut() == 1);
            assertEquals(0, arena.metrics().waits().waiters());
            all.close();
            final Buffer next = arena.allocate(1024, Duration.ofSeconds(1));
            next.close();
            assertTrue(arena.metrics().fullyCoalesced(), "the timed-out tombstone got nothing");
        }
    }

    @Test
    void aBlockedThreadIsWokenByARelease() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer held = arena.allocate();
            final AtomicReference<Buffer> got = new AtomicReference<>();
            final Thread waiter = new Thread(() ->
            {
                try
                {
                    got.set(arena.allocate(Duration.ofSeconds(30)));
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
            });
            waiter.start();
            await().atMost(AWAIT).until(() -> arena.metrics().waits().waiters() == 1);
            held.close();
            waiter.join(TimeUnit.SECONDS.toMillis(20));
            assertNotNull(got.get());
            got.get().close();
        }
    }

    @Test
    void anInterruptedWaiterLeavesTheQueueAndHoldsNothing() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer held = arena.allocate();
            final AtomicReference<Throwable> thrown = new AtomicReference<>();
            final Thread waiter = new Thread(() ->
            {
                try
                {
                    arena.allocate(Duration.ofSeconds(30));
                }
                catch (final Throwable ex)
                {
                    thrown.set(ex);
                }
            });
            waiter.start();
            await().atMost(AWAIT).until(() -> arena.metrics().waits().waiters() == 1);
            waiter.interrupt();
            waiter.join(TimeUnit.SECONDS.toMillis(20));
            assertInstanceOf(InterruptedException.class, thrown.get());
            assertEquals(1, arena.metrics().waits().cancelled());
            held.close();
            assertEquals(0, arena.liveSlots());
        }
    }

    @Test
    void aCancelledFutureGetsNothingAndDoesNotBlockTheOnesBehindIt()
    {
        try (BuddyArena arena = BuddyArena.builder(1024, 64).build())
        {
            final Buffer all = arena.allocate(1024);
            final CompletableFuture<Buffer> cancelled = arena.allocateAsync(1024);
            final CompletableFuture<Buffer> behind = arena.allocateAsync(512);
            assertTrue(cancelled.cancel(false));
            all.close();
            await().atMost(AWAIT).until(behind::isDone);
            assertThrows(CancellationException.class, cancelled::join);
            behind.join().close();
            final BuddyArenaMetrics m = arena.metrics();
            assertEquals(1, m.waits().cancelled());
            assertEquals(1, m.waits().completed());
            assertTrue(m.fullyCoalesced());
        }
    }

    @Test
    void orTimeoutOnTheFutureCountsAsATimeoutAndLosesNothing()
    {
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final Buffer held = arena.allocate();
            final CompletableFuture<Buffer> future = arena.allocateAsync().orTimeout(1, TimeUnit.MILLISECONDS);
            await().atMost(AWAIT).until(future::isDone);
            final CompletionException ex = assertThrows(CompletionException.class, future::join);
            assertInstanceOf(TimeoutException.class, ex.getCause());
            await().atMost(AWAIT).until(() -> arena.metrics().waits().timedOut() == 1);
            held.close();
            assertEquals(0, arena.liveSlots(), "the slot went back to the arena, not to the abandoned future");
        }
    }

    @Test
    void closeFailsEveryWaiterAndLeavesNoThreadParked() throws Exception
    {
        final BuddyArena arena = BuddyArena.builder(1024, 64).build();
        final Bytes held = arena.allocate(1024).putLong(1).freeze();
        final CompletableFuture<Buffer> async = arena.allocateAsync(64);
        final List<Thread> blocked = new ArrayList<>();
        final AtomicInteger closedErrors = new AtomicInteger();
        for (int i = 0; i < 3; i++)
        {
            final Thread t = new Thread(() ->
            {
                try
                {
                    arena.allocate(128, Duration.ofMinutes(1));
                }
                catch (final ArenaClosedException ex)
                {
                    closedErrors.incrementAndGet();
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
            });
            blocked.add(t);
            t.start();
        }
        await().atMost(AWAIT).until(() -> arena.metrics().waits().waiters() == 4);
        arena.close();
        for (final Thread t : blocked)
        {
            t.join(TimeUnit.SECONDS.toMillis(20));
            assertFalse(t.isAlive(), "no thread stays parked after close");
        }
        assertEquals(3, closedErrors.get());
        final CompletionException ex = assertThrows(CompletionException.class, async::join);
        assertInstanceOf(ArenaClosedException.class, ex.getCause());
        assertTrue(ex.getCause().getMessage().contains("closed while a request for 64 bytes waited"));
        assertThrows(ArenaClosedException.class, () -> arena.allocateAsync(64));
        assertEquals(4, arena.metrics().waits().failed());
        final long before = NativeMemory.reservedBytes();
        held.release();
        assertTrue(arena.isRegionFreed(), "the last release after close frees the region");
        assertTrue(NativeMemory.reservedBytes() <= before - 1024, "the region's native bytes were returned");
    }

    @Test
    void callbacksRunOnTheReleasingThreadOrOnTheCompletionExecutor() throws Exception
    {
        final ExecutorService executor = Executors.newSingleThreadExecutor(r -> new Thread(r, "lake-completer"));
        try (FixedArena inline = FixedArena.builder(1, 64).build();
            FixedArena offloaded = FixedArena.builder(1, 64).completionExecutor(executor).build())
        {
            for (final FixedArena arena : new FixedArena[] {inline, offloaded})
            {
                final Buffer held = arena.allocate();
                final AtomicReference<String> thread = new AtomicReference<>();
                final CompletableFuture<Buffer> f = arena.allocateAsync();
                f.thenAccept(b -> thread.set(Thread.currentThread().getName()));
                final Thread releaser = new Thread(held::close, "releaser");
                releaser.start();
                releaser.join();
                await().atMost(AWAIT).until(() -> thread.get() != null);
                assertEquals(arena == inline ? "releaser" : "lake-completer", thread.get());
                f.join().close();
            }
        }
        finally
        {
            executor.shutdown();
        }
    }

    /**
     * Cancel and timeout racing the hand-over, thousands of times: whichever wins, the capacity ends up either in
     * the caller's hands (and is released) or back in the arena; never lost.
     */
    @Test
    void cancellationAndTimeoutRacingTheHandOverLoseNothing() throws Exception
    {
        final int rounds = 3000;
        final BuddyArena buddy = BuddyArena.builder(1024, 64).build();
        final FixedArena fixed = FixedArena.builder(2, 64).build();
        final CyclicBarrier barrier = new CyclicBarrier(2);
        final AtomicReference<Buffer> toRelease = new AtomicReference<>();
        final AtomicReference<Throwable> error = new AtomicReference<>();
        final Thread releaser = new Thread(() ->
        {
            try
            {
                for (int i = 0; i < rounds; i++)
                {
                    barrier.await();
                    toRelease.get().close();
                    barrier.await();
                }
            }
            catch (final Throwable ex)
            {
                error.set(ex);
            }
        });
        releaser.start();
        int won = 0;
        for (int i = 0; i < rounds; i++)
        {
            final boolean useBuddy = (i & 1) == 0;
            final Buffer held = useBuddy ? buddy.allocate(1024) : fixed.allocate();
            final Buffer other = useBuddy ? null : fixed.allocate();
            toRelease.set(held);
            if ((i & 2) == 0)
            {
                final CompletableFuture<Buffer> f = useBuddy ? buddy.allocateAsync(512) : fixed.allocateAsync();
                barrier.await();
                final boolean cancelled = f.cancel(false);
                barrier.await();
                if (!cancelled)
                {
                    f.join().close();
                    won++;
                }
            }
            else
            {
                barrier.await();
                try
                {
                    final Buffer b = useBuddy ? buddy.allocate(512, Duration.ofNanos(i * 37 % 20_000)) :
                        fixed.allocate(Duration.ofNanos(i * 37 % 20_000));
                    b.close();
                    won++;
                }
                catch (final AllocationTimeoutException ex)
                {
                    // lost the race: fine, as long as nothing is held
                }
                barrier.await();
            }
            if (other != null)
            {
                other.close();
            }
        }
        releaser.join();
        assertNull(error.get());
        await().atMost(AWAIT).until(() -> buddy.metrics().waits().waiters() == 0 &&
            fixed.metrics().waits().waiters() == 0);
        final BuddyArenaMetrics m = buddy.metrics();
        assertTrue(m.fullyCoalesced(), "free capacity equals the full arena: " + m);
        assertEquals(0, fixed.liveSlots());
        final WaitMetrics bw = m.waits();
        final WaitMetrics fw = fixed.metrics().waits();
        assertEquals(rounds, won + bw.cancelled() + bw.timedOut() + fw.cancelled() + fw.timedOut(),
            "every round ended one way: handed over, cancelled or timed out");
        buddy.allocate(1024).close();
        buddy.close();
        assertTrue(buddy.isRegionFreed());
        fixed.close();
    }

    /**
     * The lost-wake-up hammer: eight threads share a tiny arena with blocking, timed allocations. A lost wake-up
     * would leave a thread parked until its generous timeout, which fails the test.
     */
    @Test
    void noWakeUpIsLostUnderContention() throws Exception
    {
        final BuddyArena buddy = BuddyArena.builder(512, 64).build();
        final FixedArena fixed = FixedArena.builder(2, 64).build();
        // Both fixed slots are held until a thread waits for one, so the hammer surely exercises waiting even
        // when the scheduler happens to run the threads one after another.
        final Buffer held1 = fixed.allocate();
        final Buffer held2 = fixed.allocate();
        final AtomicReference<Throwable> error = new AtomicReference<>();
        final List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++)
        {
            final int id = t;
            final Thread thread = new Thread(() ->
            {
                final SplittableRandom random = new SplittableRandom(id);
                try
                {
                    for (int i = 0; i < 1500; i++)
                    {
                        final Buffer b = (i & 1) == 0 ? buddy.allocate(64 << random.nextInt(4), Duration.ofSeconds(15)) :
                            fixed.allocate(Duration.ofSeconds(15));
                        b.putLong(id);
                        if (random.nextBoolean())
                        {
                            b.close();
                        }
                        else
                        {
                            final Bytes bytes = b.freeze();
                            if (bytes.getLong(0) != id)
                            {
                                throw new AssertionError("pattern broken");
                            }
                            bytes.release();
                        }
                    }
                }
                catch (final Throwable ex)
                {
                    error.compareAndSet(null, ex);
                }
            });
            threads.add(thread);
            thread.start();
        }
        await().atMost(AWAIT).until(() -> fixed.metrics().waits().waiters() > 0 || error.get() != null);
        held1.close();
        held2.close();
        for (final Thread thread : threads)
        {
            thread.join();
        }
        assertNull(error.get(), () -> "a waiter failed: " + error.get());
        await().atMost(AWAIT).until(() -> buddy.metrics().waits().waiters() == 0);
        final BuddyArenaMetrics m = buddy.metrics();
        assertTrue(m.fullyCoalesced());
        assertEquals(0, m.waits().timedOut());
        assertTrue(m.waits().completed() + fixed.metrics().waits().completed() > 0, "the test made threads wait");
        assertEquals(m.allocations(), m.frees());
        assertEquals(0, fixed.liveSlots());
        assertEquals(0, fixed.metrics().waits().timedOut());
        buddy.close();
        fixed.close();
    }
}
