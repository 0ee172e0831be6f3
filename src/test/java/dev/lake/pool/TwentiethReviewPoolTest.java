package dev.lake.pool;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The twentieth review of the pool arenas: hammers whose figures must come out exact, and the stack-overflow ladder
 * ({@link dev.lake.testing.StackLadder}) carried to the pool arenas. Each FINDING failed before its fix.
 */
class TwentiethReviewPoolTest
{
    /** Writes a pattern derived from {@code tag} into {@code n} bytes (cursor writes, spilling if it must). */
    private static void fill(final Buffer buf, final int n, final long tag)
    {
        for (int i = 0; i + 8 <= n; i += 8)
        {
            buf.putLong(tag + i);
        }
    }

    private static void check(final Bytes bytes, final long tag)
    {
        for (int i = 0; i + 8 <= bytes.length(); i += 8)
        {
            final long v = bytes.getLong(i);
            if (v != tag + i)
            {
                throw new AssertionError(bytes + " at " + i + ": " + v + " != " + (tag + i));
            }
        }
    }

    /**
     * Guard (passes). Mixed sizes, spills, freezes, slices, retains, handles, timed waits and async waits with timeouts on a small buddy
     * arena, 4 threads; once quiet every figure must describe reality: one free block, no live block, allocations equal
     * frees, splits equal coalesces, no waiter, and every request ended in exactly one outcome.
     */
    @Test
    void aMixedBuddyHammerLeavesTheArenaWholeAndTheFiguresExact() throws Exception
    {
        try (BuddyArena arena = BuddyArena.builder(64 << 10, 64).autoSpill(true).build())
        {
            hammer(arena, new AtomicBoolean(false), false);
            await().atMost(10, TimeUnit.SECONDS).until(() -> arena.waiters() == 0);
            final BuddyArenaMetrics m = arena.metrics();
            assertTrue(m.fullyCoalesced(), m.toString());
            assertEquals(0, m.liveBlocks(), m.toString());
            assertEquals(0, m.bytesLive(), m.toString());
            assertEquals(m.allocations(), m.frees(), m.toString());
            assertEquals(m.splits(), m.coalesces(), m.toString());
            final WaitMetrics w = m.waits();
            assertEquals(arena.waits.requests(), w.completed() + w.timedOut() + w.cancelled() + w.failed(), w.toString());
        }
    }

    private static void hammer(final SlotArena arena, final AtomicBoolean closeNow, final boolean closer)
        throws InterruptedException
    {
        final ConcurrentLinkedQueue<Bytes> shared = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<CompletableFuture<Buffer>> futures = new ConcurrentLinkedQueue<>();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        final int total = arena instanceof BuddyArena b ? b.totalBytes() : ((FixedArena)arena).slotCapacity();
        Workers.run(4, id ->
        {
            final ThreadLocalRandom r = ThreadLocalRandom.current();
            long seq = (long)id << 40;
            int ops = 0;
            while (System.nanoTime() < deadline)
            {
                if (closer && id == 0 && ++ops == 2_000)
                {
                    arena.close();
                    closeNow.set(true);
                }
                final int size = arena instanceof BuddyArena ? 1 + r.nextInt(Math.min(total, 1 << (6 + r.nextInt(9)))) :
                    1 + r.nextInt(total);
                final long tag = (seq += 1L << 20);
                Buffer buf = null;
                try
                {
                    switch (r.nextInt(4))
                    {
                        case 0:
                            buf = arena instanceof BuddyArena b ? b.tryAllocate(size) : ((FixedArena)arena).tryAllocate();
                            break;
                        case 1:
                            buf = arena.allocate(size, Duration.ofNanos(r.nextInt(300_000)));
                            break;
                        case 2:
                        {
                            final CompletableFuture<Buffer> f = arena.allocateAsync(size);
                            futures.add(f);
                            f.orTimeout(r.nextInt(3) + 1, TimeUnit.MILLISECONDS);
                            f.thenAccept(got ->
                            {
                                fill(got, Math.min(size, 64), 7);
                                got.freeze().release();
                            });
                            if (r.nextBoolean())
                            {
                                f.cancel(false);
                            }
                            break;
                        }
                        default:
                        {
                            final Bytes b = shared.poll();
                            if (b != null)
                            {
                                b.release();
                            }
                        }
                    }
                }
                catch (final ArenaFullException | AllocationTimeoutException | ArenaClosedException ex)
                {
                    buf = null;
                }
                if (buf != null)
                {
                    final int n = r.nextInt(4) == 0 ? buf.capacity() + 16 : Math.min(size, buf.capacity());
                    fill(buf, n, tag);
                    if (r.nextInt(8) == 0)
                    {
                        buf.close();
                        continue;
                    }
                    final Bytes bytes = buf.freeze();
                    check(bytes, tag);
                    if (bytes.length() >= 16 && r.nextBoolean())
                    {
                        final Bytes s = bytes.slice(8, 8);
                        shared.add(s);
                    }
                    if (r.nextBoolean())
                    {
                        shared.add(bytes.retain());
                    }
                    if (r.nextBoolean())
                    {
                        shared.add(bytes);
                    }
                    else
                    {
                        bytes.release();
                    }
                }
                while (shared.size() > 16)
                {
                    final Bytes b = shared.poll();
                    if (b != null)
                    {
                        b.release();
                    }
                }
            }
        });
        Bytes b;
        while ((b = shared.poll()) != null)
        {
            b.release();
        }
        for (final CompletableFuture<Buffer> f : futures)
        {
            try
            {
                f.get(10, TimeUnit.SECONDS);
            }
            catch (final Exception ignored)
            {
                // timed out, cancelled, closed
            }
        }
    }

    /** Guard (passes). The same on a fixed arena with leak detection off (so that object-tier releases park). */
    @Test
    void aMixedFixedHammerWithParkingLeavesTheFiguresExact() throws Exception
    {
        try (FixedArena arena = FixedArena.builder(16, 256).autoSpill(true).leakDetection(false).build())
        {
            hammer(arena, new AtomicBoolean(false), false);
            await().atMost(10, TimeUnit.SECONDS).until(() -> arena.waiters() == 0);
            final FixedArenaMetrics m = arena.metrics();
            assertEquals(0, m.liveSlots(), m.toString());
            assertEquals(m.allocations(), m.frees(), m.toString());
            final WaitMetrics w = m.waits();
            assertEquals(arena.waits.requests(), w.completed() + w.timedOut() + w.cancelled() + w.failed(), w.toString());
            assertEquals(16, arena.metrics().slotCount());
            final List<Buffer> all = new ArrayList<>();
            for (int i = 0; i < 16; i++)
            {
                all.add(arena.allocate());
            }
            all.forEach(Buffer::close);
        }
    }

    /** Guard (passes). Close in the middle of the buddy hammer: afterwards nothing waits and the region is freed. */
    @Test
    void aCloseInTheMiddleOfTheBuddyHammerFreesTheRegionOnceEverythingIsReleased() throws Exception
    {
        final BuddyArena arena = BuddyArena.builder(64 << 10, 64).autoSpill(true).build();
        hammer(arena, new AtomicBoolean(false), true);
        await().atMost(10, TimeUnit.SECONDS).until(() -> arena.waiters() == 0);
        assertTrue(arena.isClosed());
        final BuddyArenaMetrics m = arena.metrics();
        assertTrue(arena.isRegionFreed(), m.toString());
        assertEquals(m.allocations(), m.frees(), m.toString());
        final WaitMetrics w = m.waits();
        assertEquals(arena.waits.requests(), w.completed() + w.timedOut() + w.cancelled() + w.failed(), w.toString());
    }

    /** Guard (passes). Close in the middle of the fixed hammer. */
    @Test
    void aCloseInTheMiddleOfTheFixedHammerFreesTheRegionOnceEverythingIsReleased() throws Exception
    {
        final FixedArena arena = FixedArena.builder(16, 256).autoSpill(true).leakDetection(false).build();
        hammer(arena, new AtomicBoolean(false), true);
        await().atMost(10, TimeUnit.SECONDS).until(() -> arena.waiters() == 0);
        final FixedArenaMetrics m = arena.metrics();
        assertTrue(arena.isRegionFreed(), m.toString());
        assertEquals(m.allocations(), m.frees(), m.toString());
        final WaitMetrics w = m.waits();
        assertEquals(arena.waits.requests(), w.completed() + w.timedOut() + w.cancelled() + w.failed(), w.toString());
    }

    // ------------------------------------------------------------------------------------------------------------
    // Stack-overflow ladders (dev.lake.testing.StackLadder, as the fourteenth and fifteenth rounds ran them over the
    // lake, the growable arena and the thread lakes; the pool arenas were never laddered). Each attempt works on its own
    // arena in an interpreted child JVM, checked afterwards at a normal depth after the retry a program that caught
    // the error would make. The probe is TwentiethStackProbe; each violation names where the error struck.
    // ------------------------------------------------------------------------------------------------------------

    private static void assertClean(final String scenario) throws Exception
    {
        dev.lake.testing.StackLadder.assertClean(TwentiethStackProbe.class, scenario);
    }

    /**
     * FINDING. An allocation of a buddy arena (default configuration: cache on, leak detection on) that splits under
     * the lock, cut short by a {@code StackOverflowError}: {@code claimOrFlush}'s {@code finally} calls
     * {@code unlockArena()}, whose {@code setRelease} goes one frame deeper (VarHandle, {@code Unsafe.putIntRelease},
     * {@code putIntVolatile}) than the lock's CAS, so at the right depth the unlock itself overflows and the spin lock
     * stays taken for good: every later allocation that misses the cache, every coalescing release, {@code metrics()},
     * {@code full()} and {@code close()} spin for ever (the probe shows {@code metrics()} on another thread still spinning
     * after 2 s). pool.md: the lock "is never held across user code, allocation of objects, or another lock"; the
     * thirteenth to fifteenth rounds fixed every such cut-short state in the other allocators.
     */
    @Test
    void aBuddyAllocationCutShortByAStackOverflowLeavesTheArenaLockHeldForGood() throws Exception
    {
        assertClean("buddy-allocate");
    }

    /** FINDING. The same through a release whose block coalesces under the lock ({@code free()}'s lock path). */
    @Test
    void aBuddyReleaseCutShortByAStackOverflowLeavesTheArenaLockHeldForGood() throws Exception
    {
        assertClean("buddy-release");
    }

    /**
     * FINDING. A fixed arena's last release ({@code release(h)}, ZERO so it cannot park) cut short after the CAS that
     * dropped the count and moved the generation on (in {@code untrack}, in the zeroing, before {@code free(slot)}
     * clears the bitmap bit): the retry is refused as stale, and the slot stays marked in the bitmap with no reference,
     * for good: {@code liveSlots()} counts it, {@code allocations} exceeds {@code frees} with nothing live, the slot is
     * never handed out again, the leak safety net cannot reclaim it (its count is 0) and {@code close()} never frees the
     * region (isEmpty() stays false). pool.md: "All figures are exact once the threads are quiet"; "the last release
     * returns the slot".
     */
    @Test
    void aFixedReleaseCutShortByAStackOverflowLosesTheSlotForGood() throws Exception
    {
        assertClean("fixed-release");
    }

    /**
     * FINDING. {@code close()} of a fixed arena with nothing live but a parked slot, cut short after its
     * {@code CLOSED} CAS: a retried {@code close()} only fails waiters and removes the JFR hook (the branch for "a close
     * that the heap refused part of"), never {@code onClose()} (unparking) nor {@code freeRegionIfEmpty()}, so the
     * region stays held although nothing is live (freed only by the region's GC safety net, reported as a leak).
     * close()'s Javadoc: "the region is freed now if nothing is live ... a later close() fails the requests still
     * waiting".
     */
    @Test
    void aFixedCloseCutShortByAStackOverflowIsNotFinishedByTheRetriedClose() throws Exception
    {
        assertClean("fixed-close");
    }

    /** FINDING. The same for a buddy arena whose only free block sits in the cache (cut in onClose's flush). */
    @Test
    void aBuddyCloseCutShortByAStackOverflowIsNotFinishedByTheRetriedClose() throws Exception
    {
        assertClean("buddy-close");
    }

    /** Guard (passes): a timed wait cut short leaves no request counted as waiting (the gate stays open). */
    @Test
    void aTimedWaitCutShortLeavesNoGhostRequest() throws Exception
    {
        assertClean("fixed-wait");
    }

    /** Guard (passes): a release that serves a waiter, cut short, leaves the dispatcher usable and the waiter served. */
    @Test
    void aReleaseServingAWaiterCutShortLeavesTheDispatcherUsable() throws Exception
    {
        assertClean("fixed-release-waiter");
    }

    /**
     * FINDING. An auto-spilling write cut short in {@code Buffer.grow}: the buffer is already on the heap
     * ({@code spilled = true}, its bytes copied) when {@code source.spill} gives the slot back, and the error strikes
     * before the release's CAS. The retried write succeeds on the heap, the freeze gives heap bytes, and nothing ever
     * gives the slot back: a spilled buffer's {@code close()} and its heap {@code Bytes} do not touch the arena. The slot
     * stays taken by nobody, for good without leak detection (with it, until a GC finds the buffer unreachable, then
     * counted as a leak the caller never made). pool.md, Auto-spill: "copies what was written to a heap array ...,
     * returns the slot to the arena at once (counted in spills and frees)".
     */
    @Test
    void aSpillCutShortByAStackOverflowKeepsTheSlotForGood() throws Exception
    {
        assertClean("fixed-spill");
    }

    /** Guard (passes): an object-tier allocation cut short (claimBuffer's give-back) keeps no slot. */
    @Test
    void anObjectAllocationCutShortByAStackOverflowKeepsNoSlot() throws Exception
    {
        assertClean("fixed-allocate-object");
    }

    /** Guard: close() with a request waiting, cut short: the retry fails the request; the last release frees the region. */
    @Test
    void aCloseWithAWaiterCutShortByAStackOverflowIsFinishedByTheRetry() throws Exception
    {
        assertClean("fixed-close-waiter");
    }
}
