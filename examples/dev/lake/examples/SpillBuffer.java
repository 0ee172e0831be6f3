package dev.lake.examples;

import dev.lake.examples.sbe.NewOrderDecoder;
import dev.lake.examples.sbe.NewOrderEncoder;
import dev.lake.examples.sbe.Side;
import dev.lake.memory.NativeMemory;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;
import dev.lake.pool.FixedArenaMetrics;

/**
 * spill_buffer: a {@link FixedArena} of small 64 B slots built with {@code autoSpill(true)}. A buffer that
 * outgrows its slot copies itself to the heap, gives its slot back to the arena at once, and carries on; its
 * {@code freeze()} gives heap-backed {@link Bytes} with the same API. Each step is printed and checked:
 * <ol>
 *   <li>a message that fits stays in its slot;</li>
 *   <li>a buffer written past 64 B through its cursor spills: {@link Buffer#isSpilled()}, a larger capacity,
 *   the slot already back in the arena, every byte intact;</li>
 *   <li>a real SBE {@link NewOrderEncoder} writing through {@link Buffer#mutableBuffer()} spills too (the view
 *   follows the buffer to the heap), and a {@link NewOrderDecoder} reads the frozen heap bytes;</li>
 *   <li>{@code metrics().spills()} counts both;</li>
 *   <li>without auto-spill the same overflow is an {@link IndexOutOfBoundsException} that writes nothing.</li>
 * </ol>
 * It ends with both arenas closed and Lake's native byte count back where it was.
 *
 * <p>Run: {@code mvn -q -B test-compile exec:exec -Dexample=dev.lake.examples.SpillBuffer}
 */
public final class SpillBuffer
{
    private static final int SLOT_BYTES = 64;
    private static final String LONG_TAG = "algo=twap;desk=rates-7;account=HX-42;strategy=close-out;note=spills-the-slot";

    private static int checks;

    private SpillBuffer()
    {
    }

    /**
     * @param args ignored.
     * @throws IllegalStateException if a step does not do what it claims (the example checks itself).
     */
    public static void main(final String[] args)
    {
        checks = 0;
        final long baseline = NativeMemory.reservedBytes();
        try (FixedArena arena = FixedArena.builder(4, SLOT_BYTES).autoSpill(true).name("spill_buffer").build())
        {
            System.out.printf("%s with auto-spill: native bytes held: %,d%n", arena, NativeMemory.reservedBytes() - baseline);

            System.out.println("\n== a message that fits stays in its slot ==");
            final Buffer small = arena.allocate();
            small.putLong(1L).putLong(2L);
            final Bytes smallBytes = small.freeze();
            System.out.printf("%s: spilled %b%n", smallBytes, small.isSpilled());
            check(!small.isSpilled() && !smallBytes.isHeap(), "16 B in a 64 B slot: no spill, the bytes live in the slot");

            System.out.println("\n== the cursor writes past the slot ==");
            final Buffer growing = arena.allocate();
            int spilledAt = -1;
            for (int i = 0; i < 32; i++)
            {
                growing.putLong(i * 1000L);
                if (spilledAt < 0 && growing.isSpilled())
                {
                    spilledAt = i;
                }
            }
            System.out.printf("spilled while writing long #%d (byte %d); capacity now %d B; arena live slots: %d%n",
                spilledAt, spilledAt * Long.BYTES, growing.capacity(), arena.liveSlots());
            check(growing.isSpilled() && spilledAt == SLOT_BYTES / Long.BYTES,
                "the 9th long did not fit the 64 B slot: the buffer moved to the heap");
            check(arena.liveSlots() == 1, "the spilled buffer gave its slot back at once (only the small message holds one)");
            final Bytes spilled = growing.freeze();
            boolean intact = spilled.length() == 32 * Long.BYTES;
            for (int i = 0; i < 32; i++)
            {
                intact &= spilled.getLong(i * Long.BYTES) == i * 1000L;
            }
            System.out.printf("frozen: %s, heap %b%n", spilled, spilled.isHeap());
            check(intact && spilled.isHeap(), "all 256 B survived the move and froze into heap Bytes");

            System.out.println("\n== an SBE encoder spills through the codec view ==");
            final Buffer order = arena.allocate();
            final NewOrderEncoder encoder = new NewOrderEncoder().wrap(order.mutableBuffer(), 0);
            encoder.orderId(7001).sendingTimeNanos(1_700_000_000_000L).instrumentId(3).price(9_950).quantity(1_000)
                .side(Side.SELL).clientTag(LONG_TAG);
            System.out.printf("encoded %d B into a %d B slot: spilled %b%n", encoder.encodedLength(), SLOT_BYTES,
                order.isSpilled());
            final Bytes orderBytes = order.freeze();
            final NewOrderDecoder decoder = new NewOrderDecoder().wrap(
                orderBytes, 0, NewOrderEncoder.BLOCK_LENGTH, NewOrderEncoder.SCHEMA_VERSION);
            final long orderId = decoder.orderId();
            final Side side = decoder.side();
            final String tag = decoder.clientTag();
            System.out.printf("decoded from heap Bytes: orderId=%d side=%s clientTag=%s%n", orderId, side, tag);
            check(order.isSpilled() && orderId == 7001 && side == Side.SELL && LONG_TAG.equals(tag),
                "the encoder's view followed the buffer to the heap and the decoder reads the whole message");

            System.out.println("\n== metrics ==");
            final FixedArenaMetrics metrics = arena.metrics();
            System.out.println(metrics);
            check(metrics.spills() == 2 && metrics.liveSlots() == 1 && metrics.frozen() == 3,
                "metrics: spills=2, frozen=3, 1 live slot");

            smallBytes.release();
            spilled.release();
            orderBytes.release();
            final FixedArenaMetrics released = arena.metrics();
            check(released.liveSlots() == 0 && released.frees() == released.allocations(),
                "after the releases every slot is free: " + released.frees() + " frees for " +
                released.allocations() + " allocations");
        }

        System.out.println("\n== without auto-spill ==");
        try (FixedArena strict = FixedArena.builder(4, SLOT_BYTES).name("no_spill").build();
            Buffer buffer = strict.allocate())
        {
            buffer.position(60);
            try
            {
                buffer.putLong(-1L);
                throw new IllegalStateException("a write past the slot was accepted");
            }
            catch (final IndexOutOfBoundsException expected)
            {
                System.out.println("caught IndexOutOfBoundsException: " + expected.getMessage());
            }
            check(buffer.position() == 60 && !buffer.isSpilled() && strict.metrics().spills() == 0,
                "the refused write wrote nothing and did not spill");
        }
        final long held = NativeMemory.reservedBytes() - baseline;
        check(held == 0, "closing the arenas freed their regions");
        System.out.printf("spill_buffer: %d checks passed, native bytes held after close: %,d%n", checks, held);
    }

    private static void check(final boolean ok, final String what)
    {
        if (!ok)
        {
            throw new IllegalStateException("spill_buffer check failed: " + what);
        }
        checks++;
        System.out.println("  ok: " + what);
    }
}
