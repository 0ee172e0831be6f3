package dev.lake.pool;

import dev.lake.testing.NativeAccounting;
import org.jctools.queues.MpmcArrayQueue;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Many more threads than cores allocate, write a per-thread pattern, freeze, slice and pass bytes to each other
 * through a JCTools queue; afterwards: patterns intact (no slot claimed twice), every slot back (live count 0,
 * all allocatable again) and metrics exact.
 */
class HammerTest
{
    private static final int THREADS = 8;
    private static final int LONGS = 8;

    private static long word(final long tag, final int k)
    {
        return tag * 31 + k;
    }

    /** Checks a whole buffer (64 B) or a slice of its longs 1 and 2 (16 B). */
    private static void verify(final Bytes bytes)
    {
        if (bytes.length() == 16)
        {
            final long tag = (bytes.getLong(0) - 1) / 31;
            if (bytes.getLong(8) != word(tag, 2))
            {
                throw new AssertionError("pattern broken in slice " + bytes);
            }
            return;
        }
        assertEquals(LONGS * 8, bytes.length());
        final long tag = bytes.getLong(0);
        for (int k = 1; k < LONGS; k++)
        {
            if (bytes.getLong(k * 8) != word(tag, k))
            {
                throw new AssertionError("pattern broken in " + bytes + " at long " + k);
            }
        }
    }

    @Test
    void objectTierUnderContention() throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        final int perThread = 150_000;
        final FixedArena arena = FixedArena.builder(200, 64).build();
        final MpmcArrayQueue<Bytes> queue = new MpmcArrayQueue<>(256);
        final AtomicLong ok = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        Workers.run(THREADS, id ->
        {
            final long threadTag = (long)id << 40;
            long allocated = 0;
            long refused = 0;
            for (int i = 0; i < perThread; i++)
            {
                Buffer buffer;
                while ((buffer = arena.tryAllocate()) == null)
                {
                    refused++;
                    final Bytes other = queue.poll();
                    if (other != null)
                    {
                        verify(other);
                        other.release();
                    }
                }
                allocated++;
                final long tag = threadTag | i;
                buffer.putLong(tag);
                for (int k = 1; k < LONGS; k++)
                {
                    buffer.putLong(word(tag, k));
                }
                if ((i & 15) == 0)
                {
                    buffer.close();
                    continue;
                }
                final Bytes bytes = buffer.freeze();
                final Bytes slice = bytes.slice(8, 16);
                if (slice.getLong(0) != word(tag, 1))
                {
                    throw new AssertionError("slice broken");
                }
                if (!queue.offer(bytes))
                {
                    verify(bytes);
                    bytes.release();
                }
                if ((i & 1) != 0)
                {
                    final Bytes shared = slice.retain();
                    if (!queue.offer(shared))
                    {
                        shared.release();
                    }
                }
                slice.release();
                final Bytes other = queue.poll();
                if (other != null)
                {
                    verify(other);
                    other.release();
                }
            }
            ok.addAndGet(allocated);
            failed.addAndGet(refused);
        });
        Bytes rest;
        while ((rest = queue.poll()) != null)
        {
            verify(rest);
            rest.release();
        }
        final long total = (long)THREADS * perThread;
        assertEquals(total, ok.get());
        final FixedArenaMetrics m = arena.metrics();
        assertEquals(0, m.liveSlots());
        assertEquals(0, m.bytesLive());
        assertEquals(total, m.allocations());
        assertEquals(total, m.frees());
        assertEquals(failed.get(), m.failedAllocations());
        assertEquals(total - THREADS * ((perThread + 15) / 16), m.frozen());
        assertEquals(0, m.spills());
        assertEquals(0, m.leaks());
        everySlotAllocatableAgain(arena);
        arena.close();
        baseline.assertBack("native memory");
    }

    @Test
    void handleTierUnderContention() throws Exception
    {
        final int perThread = 100_000;
        final FixedArena arena = FixedArena.builder(100, 64).build();
        final MpmcArrayQueue<Long> queue = new MpmcArrayQueue<>(64);
        final AtomicLong failed = new AtomicLong();
        Workers.run(THREADS, id ->
        {
            final long threadTag = (long)id << 40;
            long refused = 0;
            for (int i = 0; i < perThread; i++)
            {
                long h;
                while ((h = arena.tryAllocateHandle()) == FixedArena.NO_HANDLE)
                {
                    refused++;
                    final Long other = queue.poll();
                    if (other != null)
                    {
                        check(arena, other);
                        arena.release(other);
                    }
                }
                final long tag = threadTag | i;
                for (int k = 0; k < LONGS; k++)
                {
                    arena.putLong(h, k * 8, k == 0 ? tag : word(tag, k));
                }
                arena.freezeHandle(h, LONGS * 8);
                arena.retain(h);
                if (!queue.offer(h))
                {
                    arena.release(h);
                }
                check(arena, h);
                arena.release(h);
                final Long other = queue.poll();
                if (other != null)
                {
                    check(arena, other);
                    arena.release(other);
                }
            }
            failed.addAndGet(refused);
        });
        Long rest;
        while ((rest = queue.poll()) != null)
        {
            check(arena, rest);
            arena.release(rest);
        }
        final long total = (long)THREADS * perThread;
        final FixedArenaMetrics m = arena.metrics();
        assertEquals(0, m.liveSlots());
        assertEquals(total, m.allocations());
        assertEquals(total, m.frees());
        assertEquals(total, m.frozen());
        assertEquals(failed.get(), m.failedAllocations());
        everySlotAllocatableAgain(arena);
        arena.close();
    }

    private static void check(final FixedArena arena, final long h)
    {
        final long tag = arena.getLong(h, 0);
        for (int k = 1; k < LONGS; k++)
        {
            if (arena.getLong(h, k * 8) != word(tag, k))
            {
                throw new AssertionError("pattern broken in slot " + (h & 0xFFFFFFF) + " at long " + k);
            }
        }
    }

    private static void everySlotAllocatableAgain(final FixedArena arena)
    {
        final List<Buffer> all = new ArrayList<>();
        for (int i = 0; i < arena.slotCount(); i++)
        {
            all.add(arena.allocate());
        }
        assertNull(arena.tryAllocate());
        all.forEach(Buffer::close);
        assertEquals(0, arena.liveSlots());
    }
}
