package dev.lake.examples;

import dev.lake.examples.sbe.NewOrderDecoder;
import dev.lake.examples.sbe.NewOrderEncoder;
import dev.lake.examples.sbe.Side;
import dev.lake.linear.Droplet;
import dev.lake.linear.Lake;
import dev.lake.linear.LakeSnapshot;
import dev.lake.linear.LakeView;
import dev.lake.linear.Sandbox;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;

/**
 * lake_tour: one {@link Lake} (a fixed region, bump allocation) and everything it offers, each step printed and
 * checked as it runs:
 * <ol>
 *   <li>marks: nested {@code mark()} / {@code resetToMark()};</li>
 *   <li>snapshots: {@code snapshot()} / {@code rewind(s)}, reusable;</li>
 *   <li>droplets: checked handles whose validity is exact across rewinds (one below the rewind stays valid, one
 *   above becomes stale for good), auto-rewind when the last droplet closes, and the misuse a droplet catches:
 *   reading a rewound droplet throws {@link StaleHandleException} instead of reading someone else's bytes;</li>
 *   <li>views: {@code split()} carves tributaries that allocate and reset on their own, zero on reuse when asked,
 *   and split again;</li>
 *   <li>sandboxes: commit keeps, close without commit rolls back, nested;</li>
 *   <li>{@code process()}: a writer fills free lake memory in place and the lake keeps exactly what it wrote;</li>
 *   <li>{@code place()}: a real SBE {@link NewOrderEncoder} (generated from {@code examples/sbe/market-data.xml})
 *   placed on lake memory, then decoded in place with {@link NewOrderDecoder}: no copy, no {@code byte[]}.</li>
 * </ol>
 * It ends with the lake closed and Lake's native byte count back where it was.
 *
 * <p>Run: {@code mvn -q -B test-compile exec:exec -Dexample=dev.lake.examples.LakeTour}
 */
public final class LakeTour
{
    private static int checks;

    private LakeTour()
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
        try (Lake lake = Lake.builder(64 * 1024).build())
        {
            System.out.printf("%s: %,d bytes, native bytes held: %,d%n",
                lake, lake.capacity(), NativeMemory.reservedBytes() - baseline);
            marks(lake);
            snapshots(lake);
            droplets(lake);
            views(lake);
            sandboxes(lake);
            process(lake);
            placeAFlyweight(lake);
            System.out.printf("%nbefore close: %s%n", lake.stats());
        }
        final long held = NativeMemory.reservedBytes() - baseline;
        check(held == 0, "closing the lake gave every native byte back");
        System.out.printf("lake_tour: %d checks passed, native bytes held after close: %,d%n", checks, held);
    }

    private static void marks(final Lake lake)
    {
        System.out.println("\n== marks: a stack of positions ==");
        lake.allocate(100);
        final int outer = lake.position();
        lake.mark();
        lake.allocate(200);
        final int inner = lake.position();
        lake.mark();
        lake.allocate(300);
        System.out.printf("two marks pushed, 600 B allocated: used %d B (alignment padding included), mark depth %d%n", lake.used(), lake.markDepth());
        lake.resetToMark();
        check(lake.position() == inner, "resetToMark() pops the inner mark: position back to " + inner);
        lake.resetToMark();
        check(lake.position() == outer, "resetToMark() again pops the outer mark: position back to " + outer);
        lake.reset();
        check(lake.used() == 0, "reset() rewinds the whole lake");
    }

    private static void snapshots(final Lake lake)
    {
        System.out.println("\n== snapshots: a position as a value ==");
        lake.allocate(64);
        final LakeSnapshot snapshot = lake.snapshot();
        lake.allocate(1000);
        System.out.printf("snapshot at %d, then 1000 B more: position %d%n", snapshot.position(), lake.position());
        lake.rewind(snapshot);
        check(lake.position() == snapshot.position(), "rewind(snapshot) restores the position exactly");
        lake.allocate(500);
        lake.rewind(snapshot);
        check(lake.position() == snapshot.position(), "the same snapshot rewinds again (it is reusable)");
        lake.reset();
    }

    private static void droplets(final Lake lake)
    {
        System.out.println("\n== droplets: checked handles, exact validity ==");
        final Droplet below = lake.droplet(64);
        below.putLong(0, 0xB10BL);
        final LakeSnapshot snapshot = lake.snapshot();
        final Droplet above = lake.droplet(64);
        above.putLong(0, 0xAB0FEL);
        lake.rewind(snapshot);
        System.out.printf("droplet below the snapshot: %s; droplet above it: %s%n", below, above);
        check(below.isValid() && below.getLong(0) == 0xB10BL, "a droplet below the rewind stays valid and keeps its bytes");
        check(!above.isValid(), "a droplet above the rewind is invalid");

        final Droplet reuser = lake.droplet(64);
        reuser.putLong(0, 0x2E05EL);
        check(reuser.offset() == above.offset() && !above.isValid(),
            "a new droplet takes the same bytes, and the old one stays invalid for good");

        System.out.println("misuse: reading the rewound droplet");
        try
        {
            above.getLong(0);
            throw new IllegalStateException("a rewound droplet read memory that is no longer its own");
        }
        catch (final StaleHandleException expected)
        {
            System.out.println("  caught StaleHandleException: " + expected.getMessage());
        }
        check(reuser.getLong(0) == 0x2E05EL, "the misuse did not touch the new owner's bytes");

        final int before = lake.position();
        final Droplet last = lake.droplet(100);
        System.out.printf("last droplet %s moved the position from %d to %d%n", last, before, lake.position());
        last.close();
        check(lake.position() == before && !last.isValid(), "closing the last droplet rewinds the lake to " + before);
        below.close();
        check(below.isValid(), "closing an earlier droplet does nothing: it stays valid until a rewind below it");
        lake.reset();
    }

    private static void views(final Lake lake)
    {
        System.out.println("\n== views: tributaries with their own position ==");
        final UnsafeBuffer memory = lake.buffer();
        final LakeView left = lake.split(4096);
        final LakeView right = lake.split(4096);
        final int lakeUsed = lake.used();
        left.allocate(1000);
        right.allocate(700);
        System.out.printf("left %s used %d B, right %s used %d B, lake used %d B%n",
            left, left.used(), right, right.used(), lake.used());
        check(lake.used() == lakeUsed, "allocating in views never moves the lake's own position");
        left.reset();
        check(left.used() == 0 && right.used() == 700, "resetting the left view leaves the right view alone");

        left.setZeroing(true);
        final int secretInLeft = left.allocate(8);
        memory.putLong(secretInLeft, 0x5EC2E7L);
        left.reset();
        final int reusedInLeft = left.allocate(8);
        check(reusedInLeft == secretInLeft && memory.getLong(reusedInLeft) == 0,
            "a zeroing view wipes given-back bytes: reused memory reads 0");
        right.reset();
        final int secretInRight = right.allocate(8);
        memory.putLong(secretInRight, 0x5EC2E7L);
        right.reset();
        final int reusedInRight = right.allocate(8);
        System.out.printf("right view (zeroing off) reused bytes read 0x%X%n", memory.getLong(reusedInRight));
        check(memory.getLong(reusedInRight) == 0x5EC2E7L, "without zeroing the old bytes are still there (cheaper)");

        final LakeView nested = left.split(1024);
        nested.allocate(16);
        System.out.printf("nested view %s inside the left view: valid %b%n", nested, nested.isValid());
        left.reset();
        check(!nested.isValid(), "resetting the left view invalidates the view split from it");
        right.close();
        left.close();
        lake.reset();
    }

    private static void sandboxes(final Lake lake)
    {
        System.out.println("\n== sandboxes: commit or roll back ==");
        final int start = lake.position();
        final int afterOuterWork;
        try (Sandbox outer = lake.sandbox())
        {
            outer.allocate(256);
            afterOuterWork = lake.position();
            final Droplet scratch;
            try (Sandbox inner = lake.sandbox())
            {
                scratch = inner.droplet(1024);
                System.out.printf("inner sandbox holds %d B, outer %d B%n", inner.used(), outer.used());
            }
            check(lake.position() == afterOuterWork && !scratch.isValid(),
                "the inner sandbox closed without commit: its 1024 B rolled back, its droplet invalid");
            outer.commit();
        }
        check(lake.position() == afterOuterWork, "the committed outer sandbox keeps its 256 B");
        try (Sandbox discarded = lake.sandbox())
        {
            discarded.allocate(4000);
        }
        check(lake.position() == afterOuterWork, "a sandbox never committed leaves nothing behind");
        System.out.printf("kept since the tour's sandbox step: %d B, open sandboxes: %d%n",
            lake.position() - start, lake.openSandboxes());
        lake.reset();
    }

    private static void process(final Lake lake)
    {
        System.out.println("\n== process(): write in place, keep what was written ==");
        final int[] given = new int[1];
        final Droplet text = lake.process((buffer, offset, capacity) ->
        {
            given[0] = offset;
            return buffer.putStringWithoutLengthAscii(offset, "hello, lake");
        });
        final String readBack = new String(text.toByteArray(), StandardCharsets.US_ASCII);
        System.out.printf("writer got offset %d; droplet %s reads \"%s\"%n", given[0], text, readBack);
        check(text.offset() == given[0] && text.length() == 11 && "hello, lake".equals(readBack),
            "process() kept exactly the 11 bytes the writer wrote, where it wrote them (zero copy)");
        lake.reset();
    }

    private static void placeAFlyweight(final Lake lake)
    {
        System.out.println("\n== place(): an SBE codec on lake memory ==");
        final NewOrderEncoder encoder = lake.place(new NewOrderEncoder(), 64, 8, NewOrderEncoder::wrap);
        encoder.orderId(42).sendingTimeNanos(1_700_000_000_000L).instrumentId(7).price(10_125).quantity(300)
            .side(Side.BUY).clientTag("desk-7");
        System.out.printf("encoded NewOrder at offset %d, %d B (of the 64 B placed)%n",
            encoder.offset(), encoder.encodedLength());

        final NewOrderDecoder decoder = new NewOrderDecoder().wrap(
            lake.buffer(), encoder.offset(), NewOrderEncoder.BLOCK_LENGTH, NewOrderEncoder.SCHEMA_VERSION);
        final long orderId = decoder.orderId();
        final long price = decoder.price();
        final long quantity = decoder.quantity();
        final Side side = decoder.side();
        final String tag = decoder.clientTag();
        System.out.printf("decoded in place: orderId=%d price=%d quantity=%d side=%s clientTag=%s%n",
            orderId, price, quantity, side, tag);
        check(orderId == 42 && price == 10_125 && quantity == 300 && side == Side.BUY && "desk-7".equals(tag),
            "the decoder reads back exactly what the placed encoder wrote");
    }

    private static void check(final boolean ok, final String what)
    {
        if (!ok)
        {
            throw new IllegalStateException("lake_tour check failed: " + what);
        }
        checks++;
        System.out.println("  ok: " + what);
    }
}
