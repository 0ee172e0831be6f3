package dev.lake.examples;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceStats;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * shared_slices: a {@link SliceAllocator} cuts slices of {@code long}s (price series) out of 8 KiB off-heap
 * chunks and hands them out behind cheap shared handles. Each step is printed and checked as it runs:
 * <ol>
 *   <li>six slices of 400 longs fill three chunks;</li>
 *   <li>each slice is {@code share()}d with two reader threads and the allocating thread lets go of its own
 *   handle at once; the readers keep the chunks alive, and when the last reader releases, the full chunks are
 *   freed: visible in {@link SliceStats} and in {@link NativeMemory#reservedBytes()};</li>
 *   <li>the primitive tier: {@code allocateLongsRef} gives a {@code long} reference and no object, shared with
 *   {@code retain}, read on another thread, dropped with {@code release}; a released reference throws
 *   {@link StaleHandleException}; a steady allocate/release loop reuses the current chunk in place and never
 *   touches the operating system;</li>
 *   <li>a fallible initializer ({@code tryAllocateLongs}) that fails halfway leaves nothing behind: not the
 *   chunk it started, not a byte of native memory, not a count in the stats.</li>
 * </ol>
 * It ends with the allocator closed and Lake's native byte count back where it was.
 *
 * <p>Run: {@code mvn -q -B test-compile exec:exec -Dexample=dev.lake.examples.SharedSlices}
 */
public final class SharedSlices
{
    private static final int CHUNK_ELEMENTS = 1024;
    private static final int SERIES_LENGTH = 400;
    private static final int SERIES = 6;
    private static final int READERS_PER_SERIES = 2;
    private static final int STEADY_ROUNDS = 100_000;

    private static int checks;

    private SharedSlices()
    {
    }

    /**
     * @param args ignored.
     * @throws InterruptedException  if interrupted while joining the reader threads.
     * @throws IllegalStateException if a step does not do what it claims (the example checks itself).
     */
    public static void main(final String[] args) throws InterruptedException
    {
        checks = 0;
        final long baseline = NativeMemory.reservedBytes();
        try (SliceAllocator slices = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(CHUNK_ELEMENTS).build())
        {
            System.out.printf("allocator: %d longs per chunk (%,d B); %s; native bytes held: %,d%n",
                slices.chunkCapacity(), slices.chunkBytes(), slices.stats(), NativeMemory.reservedBytes() - baseline);
            sharedAcrossThreads(slices, baseline);
            primitiveTier(slices, baseline);
            fallibleInit(slices, baseline);
        }
        final long held = NativeMemory.reservedBytes() - baseline;
        check(held == 0, "closing the allocator freed its last chunk");
        System.out.printf("shared_slices: %d checks passed, native bytes held after close: %,d%n", checks, held);
    }

    private static void sharedAcrossThreads(final SliceAllocator slices, final long baseline)
        throws InterruptedException
    {
        System.out.println("\n== slices shared across threads ==");
        final List<SharedSlice> series = new ArrayList<>();
        for (int s = 0; s < SERIES; s++)
        {
            final long base = 10_000L * (s + 1);
            series.add(slices.allocateLongs(SERIES_LENGTH, i -> base + i));
        }
        final SliceStats full = slices.stats();
        final long nativeFull = NativeMemory.reservedBytes() - baseline;
        System.out.printf("%d series of %d longs: %s; native bytes held: %,d%n",
            SERIES, SERIES_LENGTH, full, nativeFull);
        check(full.liveChunks() == 3, "two 3,208 B slices fit an 8 KiB chunk: six slices use three chunks");

        final AtomicLong total = new AtomicLong();
        final List<Thread> readers = new ArrayList<>();
        for (int s = 0; s < SERIES; s++)
        {
            final SharedSlice owned = series.get(s);
            for (int r = 0; r < READERS_PER_SERIES; r++)
            {
                final SharedSlice mine = owned.share();
                final Thread reader = new Thread(() ->
                {
                    long sum = 0;
                    for (int i = 0; i < mine.length(); i++)
                    {
                        sum += mine.getLong(i);
                    }
                    total.addAndGet(sum);
                    mine.release();
                }, "reader-" + s + "-" + r);
                readers.add(reader);
            }
            owned.release();
        }
        System.out.printf("the allocating thread released its %d handles; the readers' shares keep %s%n",
            SERIES, slices.stats());
        check(slices.stats().liveChunks() == 3, "shares keep the chunks alive after the allocating thread let go");
        for (final Thread reader : readers)
        {
            reader.start();
        }
        for (final Thread reader : readers)
        {
            reader.join();
        }

        long expected = 0;
        for (int s = 0; s < SERIES; s++)
        {
            for (int i = 0; i < SERIES_LENGTH; i++)
            {
                expected += 10_000L * (s + 1) + i;
            }
        }
        final SliceStats after = slices.stats();
        final long nativeAfter = NativeMemory.reservedBytes() - baseline;
        System.out.printf("%d readers summed %,d; after their releases: %s; native bytes held: %,d (was %,d)%n",
            readers.size(), total.get(), after, nativeAfter, nativeFull);
        check(total.get() == READERS_PER_SERIES * expected, "every reader read its series intact");
        check(after.liveChunks() == 1 && after.liveSliceBytes() == 0,
            "the last release freed the two full chunks; only the allocator's current chunk remains");
        check(nativeFull - nativeAfter >= full.reservedBytes() - after.reservedBytes() && nativeAfter < nativeFull,
            String.format("the freed chunks went back to the operating system: %,d native bytes", nativeFull - nativeAfter));
    }

    private static void primitiveTier(final SliceAllocator slices, final long baseline) throws InterruptedException
    {
        System.out.println("\n== primitive tier: long references, no objects ==");
        final long ref = slices.allocateLongsRef(16, i -> 100L + i);
        slices.retain(ref);
        final long[] seen = new long[1];
        final Thread reader = new Thread(() ->
        {
            long sum = 0;
            for (int i = 0; i < slices.length(ref); i++)
            {
                sum += slices.getLong(ref, i);
            }
            seen[0] = sum;
            slices.release(ref);
        }, "ref-reader");
        reader.start();
        reader.join();
        check(seen[0] == 16 * 100 + 120 && slices.isLive(ref),
            "another thread read the referenced slice and dropped its count; ours still holds it");
        slices.release(ref);
        check(!slices.isLive(ref), "the last release ends the slice");
        try
        {
            slices.getLong(ref, 0);
            throw new IllegalStateException("a released reference was read");
        }
        catch (final StaleHandleException expected)
        {
            System.out.println("misuse: reading a released reference: " + expected.getMessage());
        }

        final long nativeBefore = NativeMemory.reservedBytes() - baseline;
        final long chunksBefore = slices.stats().liveChunks();
        long checksum = 0;
        for (int i = 0; i < STEADY_ROUNDS; i++)
        {
            checksum += steadyRound(slices);
        }
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        final long heapBefore = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < STEADY_ROUNDS; i++)
        {
            checksum += steadyRound(slices);
        }
        final long heapBytes = threads.getCurrentThreadAllocatedBytes() - heapBefore;
        System.out.printf("%,d allocate/read/release rounds: %,d heap bytes (%.3f B per round), %s (checksum %d)%n",
            STEADY_ROUNDS, heapBytes, (double)heapBytes / STEADY_ROUNDS, slices.stats(), checksum);
        check(slices.stats().liveChunks() == chunksBefore && NativeMemory.reservedBytes() - baseline == nativeBefore,
            "the steady loop reused the current chunk in place: no native allocation");
        check(heapBytes < STEADY_ROUNDS, "the reference tier allocates no Java object (< 1 B per round)");
    }

    /** One allocate, read, release on the reference tier: a non-capturing initializer, no object. */
    private static long steadyRound(final SliceAllocator slices)
    {
        final long ref = slices.allocateLongsRef(64, i -> i * 3L);
        final long value = slices.getLong(ref, 63);
        slices.release(ref);
        return value;
    }

    private static void fallibleInit(final SliceAllocator slices, final long baseline)
    {
        System.out.println("\n== fallible init leaves nothing behind ==");
        final SharedSlice big = slices.allocateLongs(900, i -> i);
        final SliceStats before = slices.stats();
        final long nativeBefore = NativeMemory.reservedBytes() - baseline;
        System.out.printf("a live 900-long slice fills the current chunk: %s%n", before);
        try
        {
            slices.tryAllocateLongs(600, i ->
            {
                if (i == 300)
                {
                    throw new IOException("price feed ended at element " + i);
                }
                return i;
            });
            throw new IllegalStateException("the failing initializer's exception was swallowed");
        }
        catch (final IOException expected)
        {
            System.out.println("initializer failed: " + expected.getMessage());
        }
        final SliceStats after = slices.stats();
        System.out.printf("after the failure: %s; native bytes held: %,d (was %,d)%n",
            after, NativeMemory.reservedBytes() - baseline, nativeBefore);
        check(after.equals(before) && NativeMemory.reservedBytes() - baseline == nativeBefore,
            "the chunk started for the failed request was freed; stats and native memory unchanged");
        big.release();
    }

    private static void check(final boolean ok, final String what)
    {
        if (!ok)
        {
            throw new IllegalStateException("shared_slices check failed: " + what);
        }
        checks++;
        System.out.println("  ok: " + what);
    }
}
