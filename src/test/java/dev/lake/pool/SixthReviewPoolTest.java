package dev.lake.pool;

import dev.lake.memory.Memory;
import dev.lake.testing.ChildJvm;
import dev.lake.testing.HeapFiller;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Findings of the sixth hostile review of the pool's waiting, buffers and bytes: each test fails on the code before
 * its fix.
 */
class SixthReviewPoolTest
{
    /**
     * The wait queue counted a request as waiting and then offered it to its class's queue, whose offer allocates the
     * queue's next chunk every 64 requests; its compaction polled live requests out of the queue and then added them
     * to a deque that grows; its dispatcher removed a request from its queue and then made the exception that ends it;
     * and its dispatch loop's last-resort handler logged with a message built on the heap. An
     * {@code OutOfMemoryError} at any of those steps stranded a request that still counted as waiting (the arena's
     * immediate paths refused for good, the metrics off for good, the caller's future never completed) or left the
     * dispatcher wedged (no waiter ever served again). A child JVM with a small, nearly full heap queues, cancels and
     * serves requests until the heap refuses them, then frees the heap, cancels every future and releases every
     * buffer: nothing may wait, every outcome must be counted once, every slot must be allocatable and the dispatcher
     * must still serve a waiter.
     */
    @Test
    void waitingRequestsThatRunOutOfHeapAreNeverStrandedNorWedgeTheDispatcher() throws Exception
    {
        for (final String kind : new String[] {"fixed", "buddy"})
        {
            final String out = probe(WaitHeapExhaustionProbe.class, kind);
            assertTrue(out.contains("probe: ok"), out);
            assertFalse(out.contains(" 0 refusals"), out); // the heap did refuse some
        }
    }

    static String probe(final Class<?> probe, final String... args) throws Exception
    {
        return ChildJvm.runOnSmallHeap(probe, args);
    }

    /** The child JVM of {@link #waitingRequestsThatRunOutOfHeapAreNeverStrandedNorWedgeTheDispatcher()}. */
    public static final class WaitHeapExhaustionProbe
    {
        private WaitHeapExhaustionProbe()
        {
        }

        public static void main(final String[] args) throws Exception
        {
            final boolean buddy = args[0].equals("buddy");
            final SlotArena arena = buddy ?
                BuddyArena.builder(1024, 64).leakDetection(false).build() :
                FixedArena.builder(16, 64).leakDetection(false).build();
            final int slots = 16;
            final Buffer[] held = new Buffer[slots];
            for (int i = 0; i < slots; i++)
            {
                held[i] = arena.allocateAsync(64).join();
            }
            @SuppressWarnings("unchecked")
            final CompletableFuture<Buffer>[] futures = new CompletableFuture[1500];
            // links the paths before the heap is full: queue, cancel, serve, compact
            for (int i = 0; i < 200; i++)
            {
                arena.allocateAsync(64).cancel(false);
            }
            final CompletableFuture<Buffer> first = arena.allocateAsync(64);
            held[0].close();
            held[0] = first.join();
            int n = 0;
            int refused = 0;
            int released = 0;
            final HeapFiller fillers = HeapFiller.fill(1 << 21);
            final int fillerCount = fillers.count();
            boolean more = true;
            for (int k = 0; more && n < futures.length && refused < 600; k++)
            {
                for (int i = 0; i < 3 && more; i++)
                {
                    more = fillers.freeOne(); // a few dozen bytes at a time: each step of a request meets the refusal
                }
                try
                {
                    final int size = buddy ? 64 << (n % 3) : 64;
                    final CompletableFuture<Buffer> f = arena.allocateAsync(size);
                    futures[n++] = f;
                    if (n % 8 != 0)
                    {
                        f.complete(null); // most give up (no exception to make): tombstones behind the live ones
                    }
                }
                catch (final OutOfMemoryError ex)
                {
                    refused++;
                }
                if (k % 32 == 31)
                {
                    final int i = released++ % slots;
                    if (held[i] != null)
                    {
                        final Buffer b = held[i];
                        held[i] = null;
                        try
                        {
                            b.close(); // capacity for the oldest live waiter: the dispatcher serves it on the full heap
                        }
                        catch (final OutOfMemoryError ex)
                        {
                            refused++;
                        }
                    }
                }
            }
            fillers.freeAll();
            System.gc();
            int delivered = 0;
            for (int i = 0; i < n; i++)
            {
                final CompletableFuture<Buffer> f = futures[i];
                if (!f.cancel(false) && !f.isCompletedExceptionally() && f.join() != null)
                {
                    f.join().close();
                    delivered++;
                }
            }
            for (final Buffer b : held)
            {
                if (b != null)
                {
                    b.close();
                }
            }
            final StringBuilder problems = new StringBuilder();
            final WaitMetrics m = arena.waits.metrics();
            if (arena.waiters() != 0)
            {
                problems.append(" waiters ").append(arena.waiters());
            }
            final long outcomes = m.completed() + m.timedOut() + m.cancelled() + m.failed();
            if (arena.waits.requests() != outcomes)
            {
                problems.append(" requests ").append(arena.waits.requests()).append(" but outcomes ").append(outcomes);
            }
            // every slot allocatable at once
            int got = 0;
            for (int i = 0; i < slots; i++)
            {
                final Buffer b = buddy ? ((BuddyArena)arena).tryAllocate(64) : ((FixedArena)arena).tryAllocate();
                if (b != null)
                {
                    held[got++] = b;
                }
            }
            if (got != slots)
            {
                problems.append(" allocatable ").append(got).append(" of ").append(slots);
            }
            // the dispatcher still serves a waiter
            final CompletableFuture<Buffer> last = arena.allocateAsync(64);
            if (got > 0)
            {
                held[--got].close();
                try
                {
                    last.get(5, TimeUnit.SECONDS).close();
                }
                catch (final Exception ex)
                {
                    problems.append(" last waiter not served (").append(ex).append(')');
                    last.cancel(false);
                }
            }
            for (int i = 0; i < got; i++)
            {
                held[i].close();
            }
            System.out.println("probe: " + (problems.length() == 0 ? "ok" : "FAILED" + problems) + " after " +
                refused + " refusals, " + n + " requests, " + delivered + " delivered, " + fillerCount + " fillers, " +
                m);
            System.out.flush();
            arena.close();
        }
    }

    /**
     * {@code allocate(size, timeout)} waited on its future, and the wait, its {@code TimeoutException} and the
     * {@code AllocationTimeoutException} it then made all come from the heap. On a full heap their
     * {@code OutOfMemoryError} left the method while the request was still queued and counted, and nobody held its
     * future: the arena counted it as waiting for ever (its immediate paths refused with the capacity free), and a
     * buffer freed later was granted to the dropped future and lost. The same held for the future of a buffer
     * claimed at once. A child JVM with a nearly full heap makes timed requests on an arena whose only slot is held
     * until the heap refuses some, then frees the heap and the slot: nothing may wait, every request must have one
     * outcome, and the slot must be allocatable again.
     */
    @Test
    void timedAllocationsThatRunOutOfHeapEndTheirRequests() throws Exception
    {
        for (final String kind : new String[] {"fixed", "buddy"})
        {
            final String out = probe(TimedWaitHeapExhaustionProbe.class, kind);
            assertTrue(out.contains("probe: ok"), out);
            assertFalse(out.contains(" 0 refusals"), out); // the heap did refuse some
        }
    }

    /** The child JVM of {@link #timedAllocationsThatRunOutOfHeapEndTheirRequests()}. */
    public static final class TimedWaitHeapExhaustionProbe
    {
        private TimedWaitHeapExhaustionProbe()
        {
        }

        public static void main(final String[] args) throws Exception
        {
            final boolean buddy = args[0].equals("buddy");
            final SlotArena arena = buddy ?
                BuddyArena.builder(64, 64).leakDetection(false).build() :
                FixedArena.builder(1, 64).leakDetection(false).build();
            final java.time.Duration timeout = java.time.Duration.ofNanos(1_000);
            Buffer held = arena.allocate(64, timeout);
            for (int i = 0; i < 200; i++) // links the timed path before the heap is full
            {
                try
                {
                    arena.allocate(64, timeout).close();
                }
                catch (final AllocationTimeoutException expected)
                {
                    // the slot is held
                }
            }
            int refused = 0;
            int timedOut = 0;
            final HeapFiller fillers = HeapFiller.fill(1 << 21);
            boolean more = true;
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20); // a stranded gate makes it crawl
            for (int k = 0; more && refused < 300 && k < 20_000 && System.nanoTime() < deadline; k++)
            {
                for (int i = 0; i < 2 && more; i++)
                {
                    more = fillers.freeOne();
                }
                try
                {
                    arena.allocate(64, timeout).close();
                }
                catch (final OutOfMemoryError ex)
                {
                    refused++;
                }
                catch (final AllocationTimeoutException ex)
                {
                    timedOut++;
                }
                if (k % 16 == 15)
                {
                    // the slot comes and goes: an immediate claim meets the full heap too
                    try
                    {
                        if (held != null)
                        {
                            held.close();
                            held = null;
                        }
                        held = arena.allocate(64, timeout);
                    }
                    catch (final OutOfMemoryError | AllocationTimeoutException ex)
                    {
                        refused++;
                    }
                }
            }
            fillers.freeAll();
            System.gc();
            if (held != null)
            {
                held.close();
            }
            final StringBuilder problems = new StringBuilder();
            if (arena.waiters() != 0)
            {
                problems.append(" waiters ").append(arena.waiters());
            }
            final WaitMetrics m = arena.waits.metrics();
            final long outcomes = m.completed() + m.timedOut() + m.cancelled() + m.failed();
            if (arena.waits.requests() != outcomes)
            {
                problems.append(" requests ").append(arena.waits.requests()).append(" but outcomes ").append(outcomes);
            }
            final Buffer again = buddy ? ((BuddyArena)arena).tryAllocate(64) : ((FixedArena)arena).tryAllocate();
            if (again == null)
            {
                problems.append(" the slot is not allocatable");
            }
            else
            {
                again.close();
            }
            System.out.println("probe: " + (problems.length() == 0 ? "ok" : "FAILED" + problems) + " after " +
                refused + " refusals, " + timedOut + " timeouts, " + m);
            System.out.flush();
            arena.close();
        }
    }
}
