package dev.lake.pool;

import dev.lake.testing.NativeAccounting;
import org.jctools.queues.MpmcArrayQueue;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Eight threads (more than cores) allocate random sizes from the minimum block to 64 times it, on both tiers,
 * write a pattern over every byte they asked for, freeze, and hand bytes to each other through a queue. After:
 * every pattern intact (no block handed out twice, no overlap), everything coalesced back to one block, and the
 * metrics exact (allocations, failures, frees, splits == coalesces).
 */
class BuddyHammerTest
{
    private static final int THREADS = 8;
    private static final int MIN_BLOCK = 64;
    private static final int OPS = 15_000;

    private static long word(final long tag, final int k)
    {
        return tag * 0x9E3779B97F4A7C15L + k;
    }

    private static void verify(final Bytes bytes)
    {
        final long tag = bytes.getLong(0);
        final int longs = bytes.length() / 8;
        for (int k = 1; k < longs; k++)
        {
            if (bytes.getLong(k * 8) != word(tag, k))
            {
                throw new AssertionError("pattern broken in " + bytes + " at long " + k);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void mixedSizesFromEightThreads(final boolean cache) throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final BuddyArena arena = BuddyArena.builder(256 * 1024, MIN_BLOCK).freeBlockCache(cache).build();
        final MpmcArrayQueue<Bytes> exchange = new MpmcArrayQueue<>(64);
        final AtomicLong ok = new AtomicLong();
        final AtomicLong refused = new AtomicLong();
        Workers.run(THREADS, id ->
        {
            run(arena, exchange, id, ok, refused);
        });
        Bytes left;
        while ((left = exchange.poll()) != null)
        {
            verify(left);
            left.release();
        }
        final BuddyArenaMetrics m = arena.metrics();
        assertEquals(ok.get(), m.allocations());
        assertEquals(ok.get(), m.frees());
        assertEquals(refused.get(), m.failedAllocations());
        assertEquals(0, m.liveBlocks());
        assertTrue(m.fullyCoalesced(), "one free block of the whole arena: " + m);
        assertEquals(256 * 1024, m.freeBytes());
        assertEquals(m.splits(), m.coalesces(), "every split undone");
        assertTrue(m.splits() > 0);
        arena.close();
        assertTrue(arena.isRegionFreed());
        baseline.assertBack("native memory");
    }

    private static void run(final BuddyArena arena, final MpmcArrayQueue<Bytes> exchange, final int id,
        final AtomicLong ok, final AtomicLong refused)
    {
        final SplittableRandom random = new SplittableRandom(id * 7919L);
        final List<Bytes> held = new ArrayList<>();
        long allocated = 0;
        long failures = 0;
        for (int i = 0; i < OPS; i++)
        {
            final int size = 8 * (MIN_BLOCK / 8 + random.nextInt(64 * MIN_BLOCK / 8 - MIN_BLOCK / 8 + 1));
            final long tag = ((long)id << 40) | i;
            if ((i & 3) == 0)
            {
                final long h = arena.tryAllocateHandle(size);
                if (h == BuddyArena.NO_HANDLE)
                {
                    failures++;
                    releaseSome(held, exchange);
                    continue;
                }
                allocated++;
                arena.putLong(h, 0, tag);
                for (int k = 1; k < size / 8; k++)
                {
                    arena.putLong(h, k * 8, word(tag, k));
                }
                arena.freezeHandle(h, size);
                for (int k = 1; k < size / 8; k++)
                {
                    if (arena.getLong(h, k * 8) != word(tag, k))
                    {
                        throw new AssertionError("handle pattern broken");
                    }
                }
                arena.release(h);
                continue;
            }
            final Buffer buffer = arena.tryAllocate(size);
            if (buffer == null)
            {
                failures++;
                releaseSome(held, exchange);
                continue;
            }
            allocated++;
            if (buffer.capacity() < size || buffer.capacity() != Integer.highestOneBit(buffer.capacity()))
            {
                throw new AssertionError("capacity " + buffer.capacity() + " for " + size);
            }
            buffer.putLong(tag);
            for (int k = 1; k < size / 8; k++)
            {
                buffer.putLong(word(tag, k));
            }
            final Bytes bytes = buffer.freeze();
            if (random.nextInt(4) == 0 || !exchange.offer(bytes))
            {
                held.add(bytes);
            }
            if (held.size() > 6)
            {
                releaseSome(held, exchange);
            }
        }
        for (final Bytes bytes : held)
        {
            verify(bytes);
            bytes.release();
        }
        ok.addAndGet(allocated);
        refused.addAndGet(failures);
    }

    private static void releaseSome(final List<Bytes> held, final MpmcArrayQueue<Bytes> exchange)
    {
        if (!held.isEmpty())
        {
            final Bytes mine = held.remove(held.size() - 1);
            verify(mine);
            mine.release();
        }
        final Bytes other = exchange.poll();
        if (other != null)
        {
            verify(other);
            other.release();
        }
    }
}
