package dev.lake.reliability;

import dev.lake.linear.Lake;
import dev.lake.memory.NativeMemory;
import dev.lake.pool.AllocationTimeoutException;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.BuddyArenaMetrics;
import dev.lake.pool.Buffer;
import dev.lake.pool.FixedArena;
import dev.lake.pool.FixedArenaMetrics;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceReader;
import dev.lake.thread.AffinityHint;
import dev.lake.thread.ThreadLakes;
import net.openhft.affinity.Affinity;
import org.junit.jupiter.api.Test;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.time.Duration;
import java.util.BitSet;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Ninth review round: Lake run from virtual threads (JDK 21+). The code is compiled for release 17, so virtual
 * threads are reached through method handles, and every test is skipped on a JDK without them. What these tests
 * pin down is summed up in the "Virtual threads" section of {@code docs/threads.md}.
 */
class NinthVirtualThreadTest
{
    private static final MethodHandle START_VIRTUAL = staticHandle("startVirtualThread",
        MethodType.methodType(Thread.class, Runnable.class));
    private static final MethodHandle VIRTUAL_EXECUTOR = executorHandle();

    private static MethodHandle staticHandle(final String name, final MethodType type)
    {
        try
        {
            return MethodHandles.publicLookup().findStatic(Thread.class, name, type);
        }
        catch (final ReflectiveOperationException ex)
        {
            return null; // JDK 17 to 20: no virtual threads
        }
    }

    private static MethodHandle executorHandle()
    {
        try
        {
            return MethodHandles.publicLookup().findStatic(java.util.concurrent.Executors.class,
                "newVirtualThreadPerTaskExecutor", MethodType.methodType(ExecutorService.class));
        }
        catch (final ReflectiveOperationException ex)
        {
            return null;
        }
    }

    private static void assumeVirtualThreads()
    {
        assumeTrue(START_VIRTUAL != null && VIRTUAL_EXECUTOR != null, "virtual threads need JDK 21+");
    }

    /** Starts {@code task} on a new virtual thread. */
    private static Thread startVirtual(final Runnable task)
    {
        try
        {
            return (Thread)START_VIRTUAL.invokeExact(task);
        }
        catch (final RuntimeException | Error ex)
        {
            throw ex;
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException(t);
        }
    }

    private static ExecutorService virtualExecutor()
    {
        try
        {
            return (ExecutorService)VIRTUAL_EXECUTOR.invokeExact();
        }
        catch (final RuntimeException | Error ex)
        {
            throw ex;
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException(t);
        }
    }

    /** Runs {@code task} on a virtual thread and waits for it; what it threw is rethrown here. */
    private static void onVirtualThread(final Runnable task) throws InterruptedException
    {
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread thread = startVirtual(() ->
        {
            try
            {
                task.run();
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        });
        thread.join(30_000);
        assertFalse(thread.isAlive(), "the virtual thread ended");
        if (failure.get() instanceof RuntimeException)
        {
            throw (RuntimeException)failure.get();
        }
        if (failure.get() != null)
        {
            throw new AssertionError(failure.get());
        }
    }

    /** Shuts the executor down and waits for every task: a deadlock shows as a failure here, not a hang. */
    private static void finish(final ExecutorService executor) throws InterruptedException
    {
        executor.shutdown();
        assertTrue(executor.awaitTermination(60, TimeUnit.SECONDS), "every virtual thread ended (no deadlock)");
    }

    /** The carrier a virtual thread is mounted on now, as its {@code toString()} names it ("...@carrier"). */
    private static String carrier()
    {
        final String self = Thread.currentThread().toString();
        final int at = self.lastIndexOf('@');
        return at < 0 ? "" : self.substring(at + 1);
    }

    // ---- affinity hints ----

    /**
     * A pinning hint applied on a virtual thread pins the operating-system thread under it: its carrier, which runs
     * other virtual threads too and which this one leaves at its next blocking call. It must not be honoured.
     */
    @Test
    void anAffinityHintOnAVirtualThreadLeavesItsCarrierAlone() throws Exception
    {
        assumeVirtualThreads();
        final BitSet allowed = Affinity.getAffinity();
        assumeTrue(allowed.cardinality() >= 2, "needs two CPUs to see a pin");
        final int cpu = allowed.nextSetBit(0);
        final AtomicReference<BitSet> before = new AtomicReference<>();
        final AtomicReference<BitSet> after = new AtomicReference<>();
        final AtomicReference<Boolean> honoured = new AtomicReference<>();
        onVirtualThread(() ->
        {
            final BitSet was = Affinity.getAffinity();
            honoured.set(AffinityHint.cpu(cpu).applyToCurrentThread());
            final BitSet is = Affinity.getAffinity();
            if (!is.equals(was))
            {
                Affinity.setAffinity(was); // nothing blocked since the pin: still the same carrier, give it back
            }
            before.set(was);
            after.set(is);
        });
        assertEquals(before.get(), after.get(), "the hint pinned the carrier thread of a virtual thread");
        assertEquals(Boolean.FALSE, honoured.get(), "a hint cannot be honoured on a virtual thread");
    }

    /** Thread lakes with a pinning hint, used from virtual threads: each gets its lake, and no carrier is pinned. */
    @Test
    void threadLakesWithAPinningHintOnVirtualThreadsPinNoCarrier() throws Exception
    {
        assumeVirtualThreads();
        final BitSet allowed = Affinity.getAffinity();
        assumeTrue(allowed.cardinality() >= 2, "needs two CPUs to see a pin");
        final AffinityHint hint = AffinityHint.cpu(allowed.nextSetBit(0));
        final Set<BitSet> seen = ConcurrentHashMap.newKeySet();
        try (ThreadLakes lakes = ThreadLakes.builder(4096).affinity(hint).poolBound(2).build())
        {
            final ExecutorService executor = virtualExecutor();
            for (int i = 0; i < 64; i++)
            {
                executor.execute(() ->
                {
                    final BitSet was = Affinity.getAffinity();
                    final Lake lake = lakes.init();
                    final BitSet is = Affinity.getAffinity();
                    if (!is.equals(was))
                    {
                        Affinity.setAffinity(was);
                    }
                    seen.add(is);
                    lake.buffer().putLong(lake.allocate(8), 1);
                    lakes.release();
                });
            }
            finish(executor);
        }
        assertEquals(Set.of(allowed), seen, "every carrier kept the CPUs it had");
    }

    // ---- thread lakes ----

    /**
     * 10,000 virtual threads each use the thread lake briefly; half release it, half just end. Every lake comes back
     * (the ended ones counted as reclaimed), native memory is the pool's bound afterwards, and after close() every
     * lake ever built is counted closed.
     */
    @Test
    void tenThousandVirtualThreadsGiveTheirLakesBack() throws Exception
    {
        assumeVirtualThreads();
        final long baseline = NativeMemory.reservedBytes();
        final int bound = 4;
        final int total = 10_000;
        final ThreadLakes lakes = ThreadLakes.builder(4096).poolBound(bound).autoInit(true).strict(true).build();
        final AtomicLong checksum = new AtomicLong();
        final AtomicInteger wrongOwner = new AtomicInteger();
        final ExecutorService executor = virtualExecutor();
        for (int i = 0; i < total; i++)
        {
            final long value = i;
            final boolean release = (i & 1) == 0;
            executor.execute(() ->
            {
                checksum.addAndGet(lakes.with(lake ->
                {
                    if (lake.confinedTo() != Thread.currentThread())
                    {
                        wrongOwner.incrementAndGet();
                    }
                    final int at = lake.allocate(8);
                    lake.buffer().putLong(at, value);
                    return lake.buffer().getLong(at);
                }));
                if (release)
                {
                    lakes.release();
                }
            });
        }
        finish(executor);
        assertEquals((long)total * (total - 1) / 2, checksum.get());
        assertEquals(0, wrongOwner.get(), "strict lakes are confined to the virtual thread itself");
        await().atMost(Duration.ofSeconds(30)).until(() ->
        {
            System.gc();
            lakes.reap();
            final ThreadLakes.Stats stats = lakes.stats();
            return stats.leased() == 0 && stats.pooled() == Math.min(bound, stats.created());
        });
        ThreadLakes.Stats stats = lakes.stats();
        assertEquals(stats.created(), stats.closed() + stats.pooled(), "every lake is pooled or freed");
        assertEquals(total / 2, stats.reclaimed(), "every ended virtual thread's lake came back, once");
        final long perLake = 4096 + 63;
        assertTrue(NativeMemory.reservedBytes() - baseline <= bound * perLake,
            "native bytes held: " + (NativeMemory.reservedBytes() - baseline));
        lakes.close();
        stats = lakes.stats();
        assertEquals(0, stats.leased());
        assertEquals(0, stats.pooled());
        assertEquals(stats.created(), stats.closed(), "after close() every lake built is closed");
        assertTrue(NativeMemory.reservedBytes() <= baseline, "no lake's memory left");
    }

    /**
     * Above 64 leases the scan is amortized, not dropped: 100 virtual threads that took lakes and ended (their
     * {@code Thread} objects kept reachable here, so that no Cleaner gives the lakes back) are all reclaimed within a
     * quarter of the leases' inits on other threads.
     */
    @Test
    void aboveSixtyFourLeasesDeadOwnersAreStillReclaimedByInit() throws Exception
    {
        assumeVirtualThreads();
        final int owners = 100;
        try (ThreadLakes lakes = ThreadLakes.builder(64).poolBound(0).build())
        {
            final CountDownLatch taken = new CountDownLatch(owners);
            final CountDownLatch end = new CountDownLatch(1);
            final Thread[] dead = new Thread[owners];
            for (int i = 0; i < owners; i++)
            {
                dead[i] = startVirtual(() ->
                {
                    lakes.init();
                    taken.countDown();
                    try
                    {
                        end.await();
                    }
                    catch (final InterruptedException e)
                    {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            taken.await();
            end.countDown();
            for (final Thread t : dead)
            {
                t.join();
            }
            assertEquals(owners, lakes.stats().leased(), "ended, not yet reclaimed");
            int inits = 0;
            while (lakes.stats().reclaimed() < owners && inits <= owners / 4 + 1)
            {
                onVirtualThread(() ->
                {
                    lakes.init();
                    lakes.release();
                });
                inits++;
            }
            assertEquals(owners, lakes.stats().reclaimed(), "reclaimed within " + inits + " inits");
            assertEquals(0, lakes.stats().leased());
            java.lang.ref.Reference.reachabilityFence(dead); // the owners stayed reachable: only the scan reclaimed them
        }
    }

    /**
     * Strict mode keys on the virtual thread, not on its carrier: a virtual thread that moves between carriers keeps
     * using its lake, and another virtual thread (whatever carrier it runs on) is refused.
     */
    @Test
    void strictLakesFollowTheirVirtualThreadAcrossCarriers() throws Exception
    {
        assumeVirtualThreads();
        final int threads = 32;
        final AtomicInteger moved = new AtomicInteger();
        final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        try (ThreadLakes lakes = ThreadLakes.builder(4096).strict(true).poolBound(threads).build())
        {
            final ExecutorService executor = virtualExecutor();
            for (int t = 0; t < threads; t++)
            {
                final long tag = t;
                executor.execute(() ->
                {
                    try
                    {
                        final Lake lake = lakes.init();
                        final Set<String> carriers = new HashSet<>();
                        for (int i = 0; i < 200; i++)
                        {
                            carriers.add(carrier());
                            final int at = lake.allocate(8);
                            lake.buffer().putLong(at, tag * 1000 + i);
                            Thread.yield(); // unmounts: the next turn may run on another carrier
                            assertEquals(tag * 1000 + i, lake.buffer().getLong(at));
                            assertSame(lake, lakes.current());
                            assertSame(Thread.currentThread(), lake.confinedTo());
                        }
                        if (carriers.size() > 1)
                        {
                            moved.incrementAndGet();
                        }
                        lake.reset();
                        lakes.release();
                    }
                    catch (final Throwable e)
                    {
                        failures.add(e);
                    }
                });
            }
            finish(executor);
            assertTrue(failures.isEmpty(), () -> "failures: " + failures);

            // another virtual thread is refused, even one that may run on the same carrier
            final AtomicReference<Lake> owned = new AtomicReference<>();
            final CountDownLatch taken = new CountDownLatch(1);
            final CountDownLatch done = new CountDownLatch(1);
            final Thread owner = startVirtual(() ->
            {
                owned.set(lakes.init());
                taken.countDown();
                try
                {
                    done.await();
                }
                catch (final InterruptedException ignored)
                {
                    Thread.currentThread().interrupt();
                }
                lakes.release();
            });
            taken.await();
            onVirtualThread(() -> assertThrows(IllegalStateException.class, () -> owned.get().allocate(8)));
            done.countDown();
            owner.join();
            assertEquals(0, lakes.stats().leased());
        }
        // a machine with one carrier cannot show a move; the checks above still held
        assumeTrue(moved.get() > 0, "no virtual thread moved between carriers on this machine");
    }

    // ---- slice allocator ----

    /**
     * A strict slice allocator bound by a virtual thread: the owner check follows the virtual thread across carriers;
     * another virtual thread is refused; a handover is refused while the owner lives with local slices open, and
     * allowed once it ended (its reader then closed by the new owner), the counts exact.
     */
    @Test
    void aSliceAllocatorOwnedByAVirtualThreadIsHandedOverWhenItEnds() throws Exception
    {
        assumeVirtualThreads();
        final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).build();
        final SliceReader reader = new SliceReader();
        final AtomicReference<SharedSlice> shared = new AtomicReference<>();
        final CountDownLatch allocated = new CountDownLatch(1);
        final CountDownLatch end = new CountDownLatch(1);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread owner = startVirtual(() ->
        {
            try
            {
                for (int i = 0; i < 100; i++)
                {
                    alloc.allocateLongs(4, x -> x).close();
                    Thread.yield(); // may resume on another carrier: still the allocating thread
                }
                shared.set(alloc.allocateLongs(8, x -> x * 3));
                alloc.allocateLocalLongs(16, x -> x, reader); // left open: the owner ends holding it
                allocated.countDown();
                end.await();
            }
            catch (final Throwable t)
            {
                failure.set(t);
                allocated.countDown();
            }
        });
        allocated.await();
        assertEquals(null, failure.get());
        final AtomicReference<Throwable> refused = new AtomicReference<>();
        onVirtualThread(() ->
        {
            refused.set(assertThrows(IllegalStateException.class, () -> alloc.allocateLongs(1, x -> x)));
            assertThrows(IllegalStateException.class, alloc::bindToCurrentThread,
                "the owner lives and holds a local slice");
        });
        assertNotNull(refused.get());
        end.countDown();
        owner.join();
        assertEquals(null, failure.get());
        onVirtualThread(() ->
        {
            alloc.bindToCurrentThread(); // the owner ended: its local slice can no longer race
            assertEquals(15, reader.getLong(15));
            reader.close();
            assertEquals(21, shared.get().getLong(7));
            shared.get().close();
            alloc.allocateLongs(2, x -> x).close();
            alloc.close();
        });
        assertEquals(0, alloc.stats().liveSliceBytes());
        await().atMost(Duration.ofSeconds(10)).until(() -> alloc.stats().liveChunks() == 0);
    }

    // ---- arenas: waiting for capacity ----

    /**
     * 3,000 virtual threads wait for 4 slots with short and long timeouts, holding a slot across a yield: each is
     * served or times out, the metrics add up, nothing is left in use or waiting. A lost wake-up or a carrier
     * blocked under a lock would show as a thread that never ends.
     */
    @Test
    void thousandsOfVirtualThreadsWaitForAFixedArena() throws Exception
    {
        assumeVirtualThreads();
        try (FixedArena arena = FixedArena.builder(4, 64).build())
        {
            final int[] outcome = crowd(arena::allocate, arena::allocateAsync, 3_000, i -> 64);
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(0, m.liveSlots(), m.toString());
            assertEquals(0, m.waits().waiters(), m.toString());
            // a grant that met its request's timeout at the same moment went back: counted, never served
            assertTrue(m.allocations() >= outcome[0], m.toString());
            assertEquals(m.allocations(), m.frees(), m.toString());
            assertEquals(outcome[1], m.waits().timedOut(), m.toString());
            assertEquals(0, m.waits().failed() + m.waits().cancelled(), m.toString());
        }
    }

    /** The same crowd on a buddy arena, with mixed sizes: the buddy structure coalesces back whole. */
    @Test
    void thousandsOfVirtualThreadsWaitForABuddyArena() throws Exception
    {
        assumeVirtualThreads();
        try (BuddyArena arena = BuddyArena.builder(4096, 64).build())
        {
            final int[] outcome = crowd(arena::allocate, arena::allocateAsync, 3_000, i -> 64 << (i % 5));
            final BuddyArenaMetrics m = arena.metrics();
            assertEquals(0, m.liveBlocks(), m.toString());
            assertEquals(0, m.waits().waiters(), m.toString());
            assertTrue(m.fullyCoalesced(), m.toString());
            assertTrue(m.allocations() >= outcome[0], m.toString());
            assertEquals(m.allocations(), m.frees(), m.toString());
            assertEquals(outcome[1], m.waits().timedOut(), m.toString());
            assertEquals(0, m.waits().failed() + m.waits().cancelled(), m.toString());
        }
    }

    /**
     * The caller's own {@code synchronized} around a wait: on JDK 24+ a virtual thread parked inside a monitor
     * unmounts (JEP 491), so 300 of them, each waiting on a one-slot arena inside its own monitor while the holder
     * yields, are all served, none timing out. (On JDK 21 to 23 the waiters would pin every carrier and the holder
     * could not run again to release: docs/threads.md says so; this test is skipped there.)
     */
    @Test
    void waitersInsideTheirOwnMonitorsDoNotPinCarriersOnJdk24Plus() throws Exception
    {
        assumeVirtualThreads();
        assumeTrue(Runtime.version().feature() >= 24, "virtual threads pin their carrier inside a monitor before JDK 24");
        final int total = 300;
        final AtomicInteger served = new AtomicInteger();
        final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        try (FixedArena arena = FixedArena.builder(1, 64).build())
        {
            final ExecutorService executor = virtualExecutor();
            for (int i = 0; i < total; i++)
            {
                final Object monitor = new Object();
                executor.execute(() ->
                {
                    synchronized (monitor)
                    {
                        try (Buffer buffer = arena.allocate(64, Duration.ofSeconds(20)))
                        {
                            buffer.putLong(1);
                            Thread.yield();
                            served.incrementAndGet();
                        }
                        catch (final Throwable t)
                        {
                            failures.add(t);
                        }
                    }
                });
            }
            finish(executor);
            assertTrue(failures.isEmpty(), () -> "failures: " + failures);
            assertEquals(total, served.get());
            assertEquals(0, arena.metrics().waits().timedOut());
            assertEquals(0, arena.metrics().liveSlots());
        }
    }

    /**
     * {@code total} virtual threads each ask for {@code size.applyAsInt(i)} bytes with a timeout of 1 ms or 2 s, write
     * into what they got, yield while holding it, and close it; half ask through {@code allocateAsync}. Returns
     * served and timed-out counts, which must cover every thread.
     */
    private static int[] crowd(final Blocking blocking, final java.util.function.IntFunction<CompletableFuture<Buffer>> async,
        final int total, final java.util.function.IntUnaryOperator size) throws InterruptedException
    {
        final AtomicInteger served = new AtomicInteger();
        final AtomicInteger timedOut = new AtomicInteger();
        final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        final ExecutorService executor = virtualExecutor();
        for (int i = 0; i < total; i++)
        {
            final int bytes = size.applyAsInt(i);
            final Duration timeout = i % 3 == 0 ? Duration.ofMillis(1) : Duration.ofSeconds(20);
            final boolean viaFuture = (i & 1) == 0;
            final long tag = i;
            executor.execute(() ->
            {
                try
                {
                    final Buffer buffer = viaFuture ?
                        async.apply(bytes).orTimeout(timeout.toNanos(), TimeUnit.NANOSECONDS).join() :
                        blocking.allocate(bytes, timeout);
                    try
                    {
                        buffer.putLong(tag);
                        Thread.yield(); // unmounted while holding capacity: others must wait, not spin a carrier
                        assertEquals(tag, buffer.mutableBuffer().getLong(0));
                    }
                    finally
                    {
                        buffer.close();
                    }
                    served.incrementAndGet();
                }
                catch (final AllocationTimeoutException ex)
                {
                    timedOut.incrementAndGet();
                }
                catch (final java.util.concurrent.CompletionException ex)
                {
                    if (ex.getCause() instanceof java.util.concurrent.TimeoutException)
                    {
                        timedOut.incrementAndGet();
                    }
                    else
                    {
                        failures.add(ex);
                    }
                }
                catch (final Throwable t)
                {
                    failures.add(t);
                }
            });
        }
        finish(executor);
        assertTrue(failures.isEmpty(), () -> "failures: " + failures);
        assertEquals(total, served.get() + timedOut.get(), "every request served or timed out");
        assertTrue(served.get() > 0);
        return new int[] {served.get(), timedOut.get()};
    }

    /** An arena's {@code allocate(int, Duration)} (the arenas' common base class is not public). */
    @FunctionalInterface
    private interface Blocking
    {
        Buffer allocate(int size, Duration timeout) throws InterruptedException;
    }
}
