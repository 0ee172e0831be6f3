package dev.lake.examples;

import dev.lake.memory.NativeMemory;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.BuddyArenaMetrics;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;

import java.util.ArrayList;
import java.util.List;

/**
 * buddy_buffer (the arena-alligator seed's second example): variable-size buffers from one region. Requests are
 * rounded up to a power of two, larger blocks split on demand, and when every buffer is released the buddies
 * coalesce back into one free block of the whole arena.
 */
public final class BuddyBuffer
{
    private BuddyBuffer()
    {
    }

    /**
     * @param args ignored.
     */
    public static void main(final String[] args)
    {
        final long baseline = NativeMemory.reservedBytes();
        try (BuddyArena arena = BuddyArena.builder(1 << 20, 256).build())
        {
            final List<Bytes> frozen = new ArrayList<>();
            for (final int size : new int[]{100, 256, 300, 1000, 5000, 16_000, 70_000})
            {
                final Buffer buffer = arena.allocate(size);
                for (int i = 0; i < size; i++)
                {
                    buffer.putByte((byte)i);
                }
                final Bytes bytes = buffer.freeze();
                frozen.add(bytes);
                System.out.printf("asked %,7d B -> block of %,7d B, frozen %,7d B%n",
                    size, arena.blockSizeFor(size), bytes.length());
            }
            final BuddyArenaMetrics busy = arena.metrics();
            System.out.printf("while held: %d live blocks, %d splits, largest free block %,d B%n",
                busy.liveBlocks(), busy.splits(), busy.largestFreeBlock());

            frozen.forEach(Bytes::release);
            final BuddyArenaMetrics done = arena.metrics();
            System.out.printf("after release: %d live blocks, %d coalesces, largest free block %,d B of %,d B%n",
                done.liveBlocks(), done.coalesces(), done.largestFreeBlock(), arena.totalBytes());
            System.out.printf("coalesced back to one block: %b%n", done.largestFreeBlock() == arena.totalBytes());
        }
        System.out.printf("closed: native bytes held: %,d%n", NativeMemory.reservedBytes() - baseline);
    }
}
