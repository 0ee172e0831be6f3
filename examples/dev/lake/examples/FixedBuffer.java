package dev.lake.examples;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;
import dev.lake.pool.FixedArenaMetrics;
import org.jctools.queues.atomic.SpscAtomicArrayQueue;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;

/**
 * fixed_buffer (the arena-alligator seed's first example): a lock-free {@link FixedArena} of 64 slots of 256 B.
 * Each step is printed and checked as it runs:
 * <ol>
 *   <li>allocate a {@link Buffer}, write through its cursor, {@code freeze()} it into immutable {@link Bytes}
 *   with no copy; a write after the freeze is refused;</li>
 *   <li>{@code retain()} and {@code slice()} share the slot; it returns to the arena only with the last
 *   {@code release()}; a released {@code Bytes} refuses every read;</li>
 *   <li>a producer thread writes 10,000 messages into slots and hands the frozen {@code Bytes} to a consumer
 *   thread over a JCTools {@link SpscAtomicArrayQueue}; the consumer reads and releases them; the producer waits
 *   for a free slot when all 64 are in flight;</li>
 *   <li>the zero-garbage handle tier: a {@code long} handle instead of objects, checked by generation on every
 *   access, shared with another thread by {@code retain(handle)};</li>
 *   <li>the metrics at the end: allocations, frees, frozen, refusals, live slots.</li>
 * </ol>
 * It ends with the arena closed and Lake's native byte count back where it was.
 *
 * <p>Run: {@code mvn -q -B test-compile exec:exec -Dexample=dev.lake.examples.FixedBuffer}
 */
public final class FixedBuffer
{
    private static final int SLOTS = 64;
    private static final int SLOT_BYTES = 256;
    private static final int MESSAGES = 10_000;

    private static int checks;

    private FixedBuffer()
    {
    }

    /**
     * @param args ignored.
     * @throws InterruptedException  if interrupted while joining the threads.
     * @throws IllegalStateException if a step does not do what it claims (the example checks itself).
     */
    public static void main(final String[] args) throws InterruptedException
    {
        checks = 0;
        final long baseline = NativeMemory.reservedBytes();
        try (FixedArena arena = FixedArena.builder(SLOTS, SLOT_BYTES).name("fixed_buffer").build())
        {
            System.out.printf("%s: native bytes held: %,d%n", arena, NativeMemory.reservedBytes() - baseline);
            writeAndFreeze(arena);
            acrossThreads(arena);
            handleTier(arena);

            System.out.println("\n== metrics ==");
            final FixedArenaMetrics metrics = arena.metrics();
            System.out.println(metrics);
            check(metrics.allocations() == MESSAGES + 2 && metrics.frees() == metrics.allocations() &&
                metrics.frozen() == metrics.allocations() && metrics.liveSlots() == 0 && metrics.leaks() == 0,
                "metrics agree with what happened: " + metrics.allocations() + " allocated, frozen and freed, 0 live");
        }
        final long held = NativeMemory.reservedBytes() - baseline;
        check(held == 0, "closing the arena freed its region");
        System.out.printf("fixed_buffer: %d checks passed, native bytes held after close: %,d%n", checks, held);
    }

    private static void writeAndFreeze(final FixedArena arena)
    {
        System.out.println("\n== allocate, write, freeze ==");
        final Buffer buffer = arena.allocate();
        buffer.putLong(42L).putInt(7).putBytes("hello, arena".getBytes(StandardCharsets.US_ASCII));
        System.out.printf("wrote %d B into a %d B slot%n", buffer.length(), buffer.capacity());
        final Bytes bytes = buffer.freeze();
        final String text = bytes.getStringWithoutLengthAscii(12, 12);
        System.out.printf("frozen: %s reads %d, %d, \"%s\"%n", bytes, bytes.getLong(0), bytes.getInt(8), text);
        check(bytes.length() == 24 && bytes.getLong(0) == 42L && bytes.getInt(8) == 7 && "hello, arena".equals(text),
            "freeze() shares the 24 written bytes, no copy");
        try
        {
            buffer.putLong(1L);
            throw new IllegalStateException("a frozen buffer accepted a write");
        }
        catch (final StaleHandleException expected)
        {
            System.out.println("misuse: writing after freeze: " + expected.getMessage());
        }

        System.out.println("\n== retain, slice, release ==");
        final Bytes header = bytes.slice(0, 12);
        final Bytes forAnotherHolder = bytes.retain();
        bytes.release();
        check(arena.liveSlots() == 1 && header.getLong(0) == 42L && forAnotherHolder.getInt(8) == 7,
            "after the first release the slice and the retained copy still hold the slot");
        try
        {
            bytes.getLong(0);
            throw new IllegalStateException("a released Bytes was read");
        }
        catch (final StaleHandleException expected)
        {
            System.out.println("misuse: reading a released reference: " + expected.getMessage());
        }
        forAnotherHolder.release();
        check(arena.liveSlots() == 1, "one reference (the slice) still holds the slot");
        header.release();
        check(arena.liveSlots() == 0, "the last release gave the slot back");
    }

    private static void acrossThreads(final FixedArena arena) throws InterruptedException
    {
        System.out.println("\n== Bytes across threads (JCTools SPSC queue) ==");
        // Larger than the arena, so that the producer, not the queue, runs out first: it waits for a slot.
        final SpscAtomicArrayQueue<Bytes> queue = new SpscAtomicArrayQueue<>(2 * SLOTS);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final long[] waits = new long[1];
        final long[] checksum = new long[1];

        final Thread producer = new Thread(() ->
        {
            for (int i = 0; i < MESSAGES; i++)
            {
                Buffer buffer;
                while ((buffer = arena.tryAllocate()) == null)
                {
                    waits[0]++;
                    Thread.yield();
                }
                buffer.putLong(i).putLong((long)i * i);
                final Bytes message = buffer.freeze();
                while (!queue.offer(message))
                {
                    Thread.yield();
                }
            }
        }, "producer");
        final Thread consumer = new Thread(() ->
        {
            try
            {
                long sum = 0;
                int received = 0;
                while (received < MESSAGES)
                {
                    final Bytes message = queue.poll();
                    if (message == null)
                    {
                        Thread.yield();
                        continue;
                    }
                    final long sequence = message.getLong(0);
                    if (sequence != received || message.getLong(8) != sequence * sequence)
                    {
                        throw new IllegalStateException("message " + received + " arrived as " + sequence);
                    }
                    sum += message.getLong(8);
                    message.release();
                    received++;
                }
                checksum[0] = sum;
            }
            catch (final Throwable ex)
            {
                failure.set(ex);
            }
        }, "consumer");
        producer.start();
        consumer.start();
        producer.join();
        consumer.join();

        long expected = 0;
        for (int i = 0; i < MESSAGES; i++)
        {
            expected += (long)i * i;
        }
        System.out.printf("%,d messages sent and released; the producer found all %d slots in flight %,d times%n",
            MESSAGES, SLOTS, waits[0]);
        check(failure.get() == null && checksum[0] == expected,
            "the consumer read every message in order and intact (sum of squares " + checksum[0] + ")");
        check(arena.liveSlots() == 0, "every slot came back after the consumer's releases");
    }

    private static void handleTier(final FixedArena arena) throws InterruptedException
    {
        System.out.println("\n== zero-garbage handle tier ==");
        final long handle = arena.allocateHandle();
        arena.putLong(handle, 0, 99L);
        arena.putInt(handle, 8, 3);
        arena.freezeHandle(handle, 12);
        arena.retain(handle);
        final long[] seen = new long[1];
        final Thread reader = new Thread(() ->
        {
            seen[0] = arena.getLong(handle, 0) * arena.getInt(handle, 8);
            arena.release(handle);
        }, "handle-reader");
        reader.start();
        reader.join();
        System.out.printf("handle 0x%X: frozen length %d, at offset %d in the shared buffer%n",
            handle, arena.length(handle), arena.offset(handle));
        check(seen[0] == 297 && arena.isLive(handle), "another thread read the handle and released its reference");
        arena.release(handle);
        check(!arena.isLive(handle) && arena.liveSlots() == 0, "the last release returned the slot");
        try
        {
            arena.getLong(handle, 0);
            throw new IllegalStateException("a released handle was read");
        }
        catch (final StaleHandleException expected)
        {
            System.out.println("misuse: reading a released handle: " + expected.getMessage());
        }
    }

    private static void check(final boolean ok, final String what)
    {
        if (!ok)
        {
            throw new IllegalStateException("fixed_buffer check failed: " + what);
        }
        checks++;
        System.out.println("  ok: " + what);
    }
}
