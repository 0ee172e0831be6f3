package dev.lake.reliability;

import dev.lake.testing.LogHandlers;

import dev.lake.linear.Droplet;
import dev.lake.linear.Lake;
import dev.lake.memory.StaleHandleException;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.testing.ChildJvm;
import dev.lake.testing.PollingProbe;
import dev.lake.thread.AffinityHint;
import dev.lake.thread.ThreadLakes;
import org.junit.jupiter.api.Test;

import java.util.BitSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Handler;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ninth round, review of the round's own fixes: the siblings its fixes did not reach (a copy that makes its array
 * before the validity check, a "never an error" report that lets a logging backend's error through, a status query
 * read plainly by a thread polling it).
 */
class NinthFixReviewTest
{
    private static final Logger LAKE_LOGGER = Logger.getLogger("dev.lake");

    // ---------------------------------------------------------------------------------------------------------
    // Droplet.toByteArray: the sibling of Bytes.toByteArray's fix (c125ec8)
    // ---------------------------------------------------------------------------------------------------------

    /**
     * Small case, in process: a stale droplet's {@code toByteArray()} throws {@link StaleHandleException}.
     */
    @Test
    void aStaleDropletsCopySaysItIsStale()
    {
        try (Lake lake = Lake.builder(4096).build())
        {
            final Droplet droplet = lake.droplet(64);
            assertEquals(64, droplet.toByteArray().length);
            lake.reset();
            assertThrows(StaleHandleException.class, droplet::toByteArray);
        }
    }

    /**
     * {@code Droplet}'s class Javadoc: "Every accessor first checks validity and throws StaleHandleException without
     * touching memory when the droplet is invalid"; {@code toByteArray()} promises StaleHandleException. It made the
     * array first (the same bug {@code Bytes.toByteArray} had, fixed this round): a stale droplet of a large lake threw
     * {@link OutOfMemoryError} where the heap cannot hold its length, and took that much heap where it could. A child
     * JVM with a 64 MiB heap copies a stale 128 MiB droplet.
     */
    @Test
    void aStaleLargeDropletSaysItIsStaleInsteadOfFillingTheHeap() throws Exception
    {
        final String output = ChildJvm.run(StaleDropletCopyProbe.class, true);
        assertTrue(output.contains("toByteArray: dev.lake.memory.StaleHandleException"), output);
    }

    /** Resets a lake under a 128 MiB droplet, then copies the droplet out; prints what the copy threw. */
    static final class StaleDropletCopyProbe
    {
        public static void main(final String[] args)
        {
            final int size = 128 << 20;
            try (Lake lake = Lake.builder(size).build())
            {
                final Droplet droplet = lake.droplet(size); // nothing touched: the pages stay virtual
                lake.reset();
                try
                {
                    System.out.println("toByteArray: returned " + droplet.toByteArray().length + " bytes");
                }
                catch (final Throwable t)
                {
                    System.out.println("toByteArray: " + t);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // AffinityHint: "logged once per hint and ignored, never an error" (the sibling of recordLeak's fix, 64a45f3)
    // ---------------------------------------------------------------------------------------------------------

    /**
     * A pinning hint that cannot be honoured (CPU 100,000 does not exist; OpenHFT is on the test class path) logs
     * once and returns {@code false}: "never an error". The log call ran unguarded, so a logging backend failing with
     * an {@code Error} (a handler's {@code AssertionError} under {@code -ea}, a {@code StackOverflowError} of a logging
     * call made deep in a stack) escaped {@code applyToCurrentThread()}. Run on a thread of its own, so that the test
     * thread is never pinned whatever the library does.
     */
    @Test
    void anUnhonouredPinningHintNeverThrowsWhateverTheLoggingBackendThrows() throws Exception
    {
        final BitSet none = new BitSet();
        none.set(100_000);
        final AffinityHint hint = AffinityHint.anyOf(none, "ninth fix review: no such CPU");
        final Handler throwing = throwOnMessageContaining("ninth fix review: no such CPU");
        LAKE_LOGGER.addHandler(throwing);
        try
        {
            final AtomicReference<Object> outcome = new AtomicReference<>();
            final Thread caller = new Thread(() ->
            {
                try
                {
                    outcome.set(hint.applyToCurrentThread());
                }
                catch (final Throwable t)
                {
                    outcome.set(t);
                }
            });
            caller.start();
            caller.join(30_000);
            assertEquals(Boolean.FALSE, outcome.get(), "a hint is ignored, never an error");
        }
        finally
        {
            LAKE_LOGGER.removeHandler(throwing);
        }
    }

    /**
     * What that cost: thread lakes built with such a hint applied it in every {@code init()}, so the first
     * {@code init()} on a thread failed with the logging backend's error instead of handing out a lake.
     */
    @Test
    void threadLakesWithAnUnhonouredHintInitWhateverTheLoggingBackendThrows() throws Exception
    {
        final BitSet none = new BitSet();
        none.set(100_001);
        final AffinityHint hint = AffinityHint.anyOf(none, "ninth fix review: thread lakes' CPU");
        final Handler throwing = throwOnMessageContaining("ninth fix review: thread lakes' CPU");
        LAKE_LOGGER.addHandler(throwing);
        try (ThreadLakes lakes = ThreadLakes.builder(4096).affinity(hint).build())
        {
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final Thread caller = new Thread(() ->
            {
                try
                {
                    final Lake lake = lakes.init();
                    lake.allocate(8);
                    lakes.release();
                }
                catch (final Throwable t)
                {
                    failure.set(t);
                }
            });
            caller.start();
            caller.join(30_000);
            assertNull(failure.get(), () -> "init() failed with the logger's error: " + failure.get());
            final ThreadLakes.Stats stats = lakes.stats();
            assertEquals(1, stats.created());
            assertEquals(1, stats.pooled());
        }
        finally
        {
            LAKE_LOGGER.removeHandler(throwing);
        }
    }

    private static Handler throwOnMessageContaining(final String marker)
    {
        return LogHandlers.onMessageContaining(marker, record ->
        {
            throw new AssertionError("simulated: a handler's assertion");
        });
    }

    // ---------------------------------------------------------------------------------------------------------
    // SharedHandle.isReleased polled by another thread: the sibling of b0860cb's opaque reads in the pool
    // ---------------------------------------------------------------------------------------------------------

    /**
     * Small case, in process: a handle released on another thread reads as released here once that thread is joined.
     */
    @Test
    void aHandleReleasedOnAnotherThreadReadsReleased() throws Exception
    {
        try (SliceAllocator allocator = SliceAllocator.builder(ElementLayout.LONG).strict(false).build())
        {
            final SharedSlice slice = allocator.allocateLongs(4, i -> i);
            final Thread releaser = new Thread(slice::release);
            releaser.start();
            releaser.join();
            assertTrue(slice.isReleased());
        }
    }

    /**
     * {@code isReleased()} read the handle's chunk field with a plain load: a thread polling it in a loop (waiting for
     * the holder on another thread to let go) had the load hoisted out of its loop by the JIT and never saw the release
     * (the pool's handle queries had the same bug, fixed this round with opaque reads). A child JVM polls while the
     * main thread releases.
     */
    @Test
    void aThreadPollingIsReleasedSeesAnotherThreadsRelease() throws Exception
    {
        final String output = ChildJvm.run(ReleasePollingProbe.class, true);
        assertTrue(output.contains("isReleased until released: saw it"), output);
    }

    /** Polls {@code isReleased()} on a thread of its own until it changes; prints whether it saw the change. */
    static final class ReleasePollingProbe
    {
        public static void main(final String[] args) throws Exception
        {
            final SliceAllocator allocator = SliceAllocator.builder(ElementLayout.LONG).strict(false).build();
            final SharedSlice slice = allocator.allocateLongs(4, i -> i);
            final String outcome = PollingProbe.pollWhile(() -> !slice.isReleased(), slice::release);
            System.out.println("isReleased until released: " + outcome);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // user code that throws a checked exception where Lake catches only RuntimeException and Error (a Kotlin or
    // Scala executor or toString() throws IOException directly; Java code can too, with a sneaky throw): the
    // siblings of recordLeak's catch of every Throwable (64a45f3)
    // ---------------------------------------------------------------------------------------------------------

    /** Throws {@code t} whatever it is, as code in a language without checked exceptions does. */
    @SuppressWarnings("unchecked")
    private static <T extends Throwable> RuntimeException sneaky(final Throwable t) throws T
    {
        throw (T)t;
    }

    /**
     * A completion executor that throws from {@code execute} is a "rejected or broken executor": the wait queue
     * completes the hand-over on the freeing thread "rather than lose the capacity". It caught only
     * {@code RuntimeException} and {@code Error}, so an executor throwing a checked exception left the future never
     * completed (its caller waiting for ever) and the slot granted to it lost to the arena; the dispatcher logged it
     * as a failure after the future was completed, which it was not.
     */
    @Test
    void anExecutorThrowingACheckedExceptionStillHandsTheCapacityOver()
    {
        final java.util.concurrent.Executor broken = task ->
        {
            throw sneaky(new java.io.IOException("simulated: a broken executor written in Kotlin"));
        };
        try (dev.lake.pool.FixedArena arena = dev.lake.pool.FixedArena.builder(1, 64).completionExecutor(broken)
            .name("ninth fix review broken executor").build())
        {
            final dev.lake.pool.Buffer held = arena.allocate();
            final java.util.concurrent.CompletableFuture<dev.lake.pool.Buffer> waiting = arena.allocateAsync();
            assertFalse(waiting.isDone());
            held.close(); // the dispatcher grants the slot to the waiter and hands it over through the executor
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(2)).until(waiting::isDone);
            final dev.lake.pool.Buffer granted = waiting.join();
            granted.close();
            assertEquals(0, arena.liveSlots(), "the slot came back");
            assertEquals(0, arena.waiters());
            assertEquals(1, arena.metrics().waits().completed());
        }
    }

    /** A checked cleanup failure whose {@code toString()} throws a checked exception. */
    static final class VeryRude extends Exception
    {
        private static final long serialVersionUID = 1L;

        @Override
        public String toString()
        {
            throw sneaky(new java.io.IOException("simulated: toString of a Kotlin exception"));
        }
    }

    /**
     * The eighth round made a checked cleanup failure whose {@code toString()} throws still complete the rollback
     * ({@code CleanupException} describes it by class name then), but caught only {@code RuntimeException} and
     * {@code Error} there: a {@code toString()} throwing a checked exception escaped the cleanup pass, so the older
     * actions never ran, the rollback was not done, the transaction stayed open and {@code reset()} was refused for
     * good.
     */
    @Test
    void aCheckedCleanupFailureWhoseToStringThrowsACheckedExceptionStillCompletesTheRollback()
    {
        try (dev.lake.linear.Arena arena = new dev.lake.linear.Arena())
        {
            final long before = arena.bytesAllocated();
            final java.util.List<String> ran = new java.util.ArrayList<>();
            final VeryRude rude = new VeryRude();
            final Throwable thrown = assertThrows(Throwable.class, () ->
            {
                try (dev.lake.linear.Transaction tx = arena.transaction())
                {
                    arena.defer(() -> ran.add("first"));
                    arena.deferClose(() ->
                    {
                        ran.add("rude");
                        throw rude;
                    });
                    arena.defer(() -> ran.add("last"));
                    arena.allocate(64);
                } // not committed: rolled back here
            });
            assertEquals(dev.lake.linear.CleanupException.class, thrown.getClass(), "thrown: " + thrown.getClass());
            assertSame(rude, thrown.getCause());
            assertEquals(java.util.List.of("last", "rude", "first"), ran, "every cleanup action ran");
            assertEquals(0, arena.transactionDepth(), "the rollback completed: no transaction is left open");
            assertEquals(before, arena.bytesAllocated(), "the rollback gave the bytes back");
            arena.reset(); // not refused for good by a transaction nobody can end
        }
    }
}
