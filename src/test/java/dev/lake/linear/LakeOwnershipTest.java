package dev.lake.linear;

import dev.lake.memory.NativeMemory;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Lakes are single-owner: these tests check that lakes on different threads share no hidden state, and that a
 * lake nobody closed is still freed (and counted as a leak) by the safety net.
 */
class LakeOwnershipTest
{
    @Test
    void lakesOnManyThreadsAreIndependent() throws Exception
    {
        final int threads = 8;
        final long before = NativeMemory.reservedBytes();
        final CountDownLatch start = new CountDownLatch(1);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++)
        {
            final long seed = t;
            final Thread worker = new Thread(() ->
            {
                try (Lake lake = Lake.of(1 << 16))
                {
                    start.await();
                    final Random random = new Random(seed);
                    for (int i = 0; i < 20_000; i++)
                    {
                        lake.mark();
                        try (Sandbox sandbox = lake.sandbox())
                        {
                            final Droplet d = lake.droplet(8 + random.nextInt(64));
                            d.putLong(0, seed * 1_000_000 + i);
                            final int at = lake.allocate(16);
                            lake.buffer().putLong(at, i);
                            assertEquals(seed * 1_000_000 + i, d.getLong(0), "another thread wrote here");
                            if (random.nextBoolean())
                            {
                                sandbox.commit();
                            }
                        }
                        lake.resetToMark();
                        assertEquals(0, lake.used());
                    }
                    assertEquals(0, lake.markDepth());
                    assertEquals(0, lake.openSandboxes());
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                }
            });
            workers.add(worker);
            worker.start();
        }
        start.countDown();
        for (final Thread worker : workers)
        {
            worker.join(30_000);
            assertFalse(worker.isAlive());
        }
        assertNull(failure.get(), () -> String.valueOf(failure.get()));
        assertTrue(NativeMemory.reservedBytes() <= before, "every lake's region was freed");
    }

    @Test
    void anUnclosedLakeIsFreedBySafetyNetAndCountedAsALeak()
    {
        final long leaks = NativeMemory.leaks();
        createAndDrop();
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() ->
        {
            System.gc();
            return NativeMemory.leaks() > leaks;
        });
    }

    private static void createAndDrop()
    {
        final Lake lake = Lake.of(12_345);
        lake.droplet(64).putLong(0, 1L);
        lake.split(128).allocate(8);
    }
}
