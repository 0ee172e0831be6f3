package dev.lake.pool;

import dev.lake.memory.Memory;
import org.junit.jupiter.api.Test;

import java.lang.invoke.VarHandle;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sixteenth review of the pool arenas: two {@code close()} calls racing while requests wait.
 */
class SixteenthReviewPoolTest
{
    /**
     * pool.md: a close that returns left no request waiting; only a second {@code close()} racing the first may
     * return at once. The first one skipped waiting for any pass that was a close's own, so when a second close
     * reached the waiting requests first (the first held up in {@code onClose()} by the buddy lock, which a
     * coalescing release on another thread holds; here taken through reflection) and was still failing them one by
     * one, the first returned with a request still waiting (not done, still counted). The first request's failure
     * stage is slow work that does not block.
     */
    @Test
    void theFirstCloseReturnsOnlyOnceNoRequestWaitsEvenWhenASecondCloseIsFailingThem() throws Exception
    {
        final BuddyArena arena = BuddyArena.builder(128, 64).build();
        final Buffer a = arena.allocate(64);
        final Buffer b = arena.allocate(64);
        final CountDownLatch inSlowStage = new CountDownLatch(1);
        final CompletableFuture<Buffer> first = arena.allocateAsync(64);
        first.whenComplete((buffer, error) ->
        {
            inSlowStage.countDown();
            final long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1000);
            while (System.nanoTime() < end)
            {
                Thread.onSpinWait(); // slow work, no blocking: the first close may wait for it
            }
        });
        final CompletableFuture<Buffer> second = arena.allocateAsync(64);
        assertEquals(2, arena.waiters());

        final Field field = BuddyArena.class.getDeclaredField("lock");
        field.setAccessible(true);
        final int[] lock = (int[])field.get(arena);
        final int word = Memory.CACHE_LINE / Integer.BYTES;
        lock[word] = 1; // held, as by another thread's coalesce
        VarHandle.fullFence();

        final AtomicBoolean secondDoneWhenFirstCloseReturned = new AtomicBoolean();
        final AtomicInteger waitersWhenFirstCloseReturned = new AtomicInteger(-1);
        final Thread firstClose = new Thread(() ->
        {
            arena.close();
            secondDoneWhenFirstCloseReturned.set(second.isDone());
            waitersWhenFirstCloseReturned.set(arena.waiters());
        });
        firstClose.start();
        await().atMost(Duration.ofSeconds(5)).until(arena::isClosed); // the first close is held up in onClose()
        final Thread secondClose = new Thread(arena::close);
        secondClose.start();
        assertTrue(inSlowStage.await(5, TimeUnit.SECONDS)); // the second close's pass is failing the requests
        lock[word] = 0; // the coalesce is done
        VarHandle.fullFence();
        firstClose.join(TimeUnit.SECONDS.toMillis(20));
        secondClose.join(TimeUnit.SECONDS.toMillis(20));
        a.close();
        b.close();
        assertTrue(first.isCompletedExceptionally());
        assertTrue(second.isCompletedExceptionally());
        assertTrue(arena.isRegionFreed());
        assertTrue(secondDoneWhenFirstCloseReturned.get(),
            "the first close() returned while a request still waited (waiters " + waitersWhenFirstCloseReturned.get() +
                ")");
        assertEquals(0, waitersWhenFirstCloseReturned.get());
    }
}
